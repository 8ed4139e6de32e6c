"""Per-guild settings: where flags are posted, what is never scored, automatic actions, and stored texts
(with the daily retention purge)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.discord.app import ToxmodBot
from bot.discord.checks import ADMIN, GuardedGroup, guild_of
from bot.discord.errors import UserInputError, send_ephemeral
from bot.discord.guild_settings._common import Label, update_settings
from bot.discord.modlog import post_appeal, publish_flag
from bot.moderation.feedback.run_folders import remove_feedback_exports, runs_dir
from bot.moderation.guild_config import AutomodRule
from bot.moderation.languages import UNSUPPORTED_RULES, moderated_languages, validate_languages
from bot.storage.appeals import appeals_to_repost
from bot.storage.audit import audit
from bot.storage.cases import Appeal
from bot.storage.errors import DatabaseError
from bot.storage.guilds import add_exemption, remove_exemption
from bot.storage.modlog_posts import flags_to_repost
from bot.storage.tables import Flag, utcnow
from bot.storage.texts import erase_texts

log = logging.getLogger(__name__)

RULE_TEXT = {"ignore": "ignored (not scored, nothing stored)",
             "review": "sent to review as a flag marked 'language not supported'"}


class ServerSettings(commands.Cog):
    """/modlog, /exempt, /automod, /privacy and /languages: a server's own settings, for its admins."""

    modlog = GuardedGroup(name="modlog", description="Where flags are posted", permissions=ADMIN)
    exempt = GuardedGroup(name="exempt", description="Channels and roles that are never scored", permissions=ADMIN)
    automod = GuardedGroup(name="automod", description="Automatic actions per label", permissions=ADMIN)
    privacy = GuardedGroup(name="privacy", description="Stored message texts", permissions=ADMIN)
    languages = GuardedGroup(name="languages", description="Which languages are moderated here",
                             permissions=ADMIN)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot
        self.purge_old_texts.start()

    async def cog_unload(self) -> None:
        """Stop the daily purge of expired texts when the extension unloads."""
        self.purge_old_texts.cancel()

    @tasks.loop(hours=24)
    async def purge_old_texts(self) -> None:
        """Retention: flag texts older than RETENTION_DAYS are erased daily (verdicts and scores stay)."""
        cutoff = utcnow() - timedelta(days=self.bot.settings.retention_days)
        try:
            erased = await self.bot.db.erase(lambda s: erase_texts(s, before=cutoff))
        except DatabaseError as exc:
            log.error("retention purge failed (%s); will try again tomorrow", exc)
            return
        exports = await asyncio.to_thread(remove_feedback_exports, runs_dir(self.bot.settings.models_dir))
        if erased or exports:
            log.info("retention: erased the text of %d flags older than %d days; removed %d retrain feedback exports",
                     erased, self.bot.settings.retention_days, exports)

    @purge_old_texts.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    # -- /privacy ----------------------------------------------------------------------------------------
    @privacy.command(name="forget", description="Erase every stored message text of a member in this server")
    async def privacy_forget(self, interaction: discord.Interaction, member: discord.User) -> None:
        """/privacy forget: erase every stored text of a member in this server."""
        guild_id = guild_of(interaction).id
        erased = await self.bot.db.erase(lambda s: erase_texts(s, guild_id=guild_id, author_id=member.id))
        await asyncio.to_thread(remove_feedback_exports, runs_dir(self.bot.settings.models_dir))
        await self.bot.db.write(lambda s: audit(s, guild_id, interaction.user.id, "privacy_forget",
                                                member_id=member.id, erased=erased))
        await send_ephemeral(
            interaction,
            f"Erased {erased} stored message texts of {member.mention}; verdicts and scores are kept.")

    async def _update(self, guild_id: int, actor_id: int, action: str,
                      patch: dict[str, dict[str, object]] | None = None, **changes: object) -> None:
        await update_settings(self.bot, guild_id, actor_id, action, patch, **changes)

    # -- /modlog -----------------------------------------------------------------------------------------
    @modlog.command(name="set", description="Post flags in this channel")
    async def modlog_set(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        """/modlog set: post flags in a channel, and repost the pending ones there."""
        guild = guild_of(interaction)
        perms = channel.permissions_for(guild.me)
        if not (perms.view_channel and perms.send_messages and perms.embed_links):
            raise UserInputError(f"I need View Channel, Send Messages and Embed Links in {channel.mention}.")
        await self._update(guild.id, interaction.user.id, "modlog_set", modlog_channel_id=channel.id)
        flags = await self.bot.db.read(lambda s: flags_to_repost(s, guild.id, channel.id))
        appeals = await self.bot.db.read(lambda s: appeals_to_repost(s, guild.id, channel.id))
        pending = [f"{len(flags)} pending flags"] * bool(flags) + [f"{len(appeals)} open appeals"] * bool(appeals)
        more = f" Posting the {' and the '.join(pending)} that are not there yet." if pending else ""
        await send_ephemeral(interaction, f"Flags will be posted in {channel.mention}.{more}")
        # in the background: hundreds of posts take a while under Discord's rate limits
        self.bot.spawn(self._repost(guild, flags, appeals))

    async def _repost(self, guild: discord.Guild, flags: list[Flag], appeals: list[Appeal]) -> None:
        """Pending flags and open appeals not in the new mod-log (never posted, failed, or in a channel since
        replaced)."""
        for flag in flags:
            await publish_flag(self.bot, guild, flag)
        for appeal in appeals:
            await post_appeal(self.bot, guild, appeal)

    # -- /exempt -----------------------------------------------------------------------------------------
    async def _exempt(self, interaction: discord.Interaction, add: bool, channel: discord.abc.GuildChannel | None,
                      role: discord.Role | None) -> None:
        target: discord.abc.GuildChannel | discord.Role
        if channel is not None and role is None:
            kind, target = "channel", channel
        elif role is not None and channel is None:
            kind, target = "role", role
        else:
            raise UserInputError("Give exactly one channel or one role.")
        guild_id = guild_of(interaction).id
        change = add_exemption if add else remove_exemption
        changed = await self.bot.db.write(lambda s: change(s, guild_id, kind, target.id, interaction.user.id))
        self.bot.moderation.forget_guild_config(guild_id)
        if add:
            text = f"{target.mention} is now exempt." if changed else f"{target.mention} was already exempt."
        else:
            text = f"{target.mention} is scored again." if changed else f"{target.mention} was not exempt."
        await send_ephemeral(interaction, text)

    @exempt.command(name="add", description="Never score messages in a channel or from a role")
    async def exempt_add(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None,
                         role: discord.Role | None = None) -> None:
        """/exempt add: never score a channel or a role's messages."""
        await self._exempt(interaction, True, channel, role)

    @exempt.command(name="remove", description="Score a channel or role again")
    async def exempt_remove(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None,
                            role: discord.Role | None = None) -> None:
        """/exempt remove: score a channel or role again."""
        await self._exempt(interaction, False, channel, role)

    @exempt.command(name="list", description="Exempt channels and roles")
    async def exempt_list(self, interaction: discord.Interaction) -> None:
        """/exempt list: the exempt channels and roles."""
        config = await self.bot.moderation.guild_config(guild_of(interaction).id)
        lines = [f"<#{c}>" for c in sorted(config.exempt_channels)] + [f"<@&{r}>" for r in sorted(config.exempt_roles)]
        await send_ephemeral(interaction, "\n".join(lines) or "Nothing is exempt.")

    # -- /languages --------------------------------------------------------------------------------------
    @languages.command(name="show", description="Languages moderated here and what happens to the others")
    async def languages_show(self, interaction: discord.Interaction) -> None:
        """/languages show: the languages moderated here, and what happens to the others."""
        config = await self.bot.moderation.guild_config(guild_of(interaction).id)
        read = self.bot.scorer.model.info.languages
        moderated = moderated_languages(config, read)
        unread = [code for code in moderated if code not in read]
        lines = [f"Moderated here: {', '.join(moderated)}" + ("" if config.languages else " (the default)"),
                 f"The model ({self.bot.scorer.model.version}) reads: {', '.join(read)}",
                 f"A message in any other language is {RULE_TEXT[config.unsupported_language]}."]
        if unread:
            lines.append(f"Named here but not read by the model (they follow that rule): {', '.join(unread)}")
        await send_ephemeral(interaction, "\n".join(lines))

    @languages.command(name="set", description="Choose the languages moderated here and the rule for the others")
    @app_commands.describe(codes="two-letter codes, comma-separated (e.g. en,es); the first is assumed for "
                                 "messages too short to tell; empty: the default (every language the model reads)",
                           others="what happens to a message in any other language")
    @app_commands.choices(others=[app_commands.Choice(name="ignore it", value="ignore"),
                                  app_commands.Choice(name="send it to review, marked unsupported", value="review")])
    async def languages_set(self, interaction: discord.Interaction, codes: str = "",
                            others: str = "ignore") -> None:
        """/languages set: which languages are moderated, and the rule for any other."""
        guild_id = guild_of(interaction).id
        try:
            chosen = list(validate_languages(codes.split(","))) if codes.strip() else None
        except ValueError as exc:
            raise UserInputError(f"{exc}.") from exc
        if others not in UNSUPPORTED_RULES:
            raise UserInputError(f"`others` must be one of {', '.join(UNSUPPORTED_RULES)}.")
        await self._update(guild_id, interaction.user.id, "languages_set", languages=chosen,
                           unsupported_language=others)
        read = self.bot.scorer.model.info.languages
        unread = [code for code in chosen or () if code not in read]
        note = (f" The model does not read {', '.join(unread)}: messages in them are {RULE_TEXT[others]}."
                if unread else "")
        await send_ephemeral(interaction, f"Moderated here: {', '.join(chosen or read)}; other languages are "
                                          f"{RULE_TEXT[others]}.{note}")

    # -- /automod ----------------------------------------------------------------------------------------
    @automod.command(name="show", description="Automatic actions per label (off unless set)")
    async def automod_show(self, interaction: discord.Interaction) -> None:
        """/automod show: the automatic action per label, if any."""
        config = await self.bot.moderation.guild_config(guild_of(interaction).id)
        lines = [f"`{label}` ≥ {rule.threshold:.2f}: " + (", ".join(
                     filter(None, ["delete" if rule.delete else "",
                                   f"timeout {rule.timeout_minutes} min" if rule.timeout_minutes else ""]))
                     or "nothing")
                 for label, rule in config.automod.items()]
        await send_ephemeral(interaction, "\n".join(lines) or "Automod is off for every label.")

    @automod.command(name="set", description="Delete and/or time out when a label passes a higher threshold")
    @app_commands.describe(threshold="score at which to act; 0 turns this label's automod off",
                           timeout_minutes="0 for no timeout")
    async def automod_set(self, interaction: discord.Interaction, label: Label,
                          threshold: app_commands.Range[float, 0.0, 1.0], delete: bool = False,
                          timeout_minutes: app_commands.Range[int, 0, 40320] = 0) -> None:
        """/automod set: delete and/or time out when a label passes a higher threshold."""
        guild_id = guild_of(interaction).id
        rule: dict | None = None
        if threshold == 0 or not (delete or timeout_minutes):
            text = f"Automod is off for `{label}`."
        else:
            in_force = (await self.bot.moderation.policy(guild_id)).thresholds[label]
            if threshold < in_force:
                raise UserInputError(f"The automod threshold must be at least the flag threshold ({in_force:.2f}).")
            rule = AutomodRule(float(threshold), delete, timeout_minutes).to_json()
            text = f"Automod for `{label}` ≥ {threshold:.2f} set."
        await self._update(guild_id, interaction.user.id, "automod_set", {"automod": {label: rule}})
        await send_ephemeral(interaction, text)
