"""Moderator review: the mod-log buttons, `/flags`, `/scan` and `/stats`.

Buttons and slash commands share the same actions, so a flag confirmed either way is stored, audited and
shown identically. Every action re-checks the clicker's permissions and the flag's guild: a flag id from
another guild is answered exactly like an id that does not exist.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import ToxmodBot
from bot.errors import NotFoundError, UserInputError, missing_permissions, send_ephemeral
from bot.exts.checks import MODERATOR, GuardedGroup, guarded
from bot.labels import LABELS
from bot.modlog import (
    describe_failure,
    flag_embed,
    flag_view,
    shown_labels,
    spoiler_safe,
    timeout_view,
    verdict_view,
)
from bot.storage.models import Flag, FlagStatus, utcnow
from bot.storage.repository import (
    flag_counts_since,
    get_flag,
    list_flags,
    member_history,
    record_action,
    relabel_flag,
    review_flag,
)

log = logging.getLogger(__name__)

PAGE = 10
ACTION_PERMISSIONS = {"confirm": "manage_messages", "dismiss": "manage_messages", "delete": "manage_messages",
                      "timeout": "moderate_members"}


# -- shared actions ------------------------------------------------------------------------------------
async def load_flag(bot: ToxmodBot, guild_id: int, flag_id: int) -> Flag:
    flag = await bot.db.read(lambda s: get_flag(s, guild_id, flag_id))
    if flag is None:
        raise NotFoundError(f"No flag #{flag_id} in this server.")
    return flag


async def review(bot: ToxmodBot, guild_id: int, flag_id: int, status: FlagStatus, actor_id: int,
                 note: str | None = None) -> Flag:
    flag = await bot.db.write(lambda s: review_flag(s, guild_id, flag_id, status, actor_id, note=note))
    if flag is None:
        raise NotFoundError(f"No flag #{flag_id} in this server.")
    return flag


async def delete_flagged_message(bot: ToxmodBot, guild: discord.Guild, flag: Flag, actor_id: int) -> Flag:
    channel = guild.get_channel_or_thread(flag.channel_id) if flag.channel_id else None
    if channel is None or flag.message_id is None:
        raise UserInputError("The flagged message's channel is gone; nothing to delete.")
    try:
        await channel.get_partial_message(flag.message_id).delete()
        action = "message deleted"
    except discord.NotFound:
        action = "message was already deleted"
    except discord.HTTPException as exc:
        raise UserInputError(f"Could not delete the message: {describe_failure(exc)}.") from exc
    return await bot.db.write(lambda s: record_action(s, guild.id, flag.id, actor_id, action))


async def timeout_author(bot: ToxmodBot, guild: discord.Guild, flag: Flag, actor: discord.abc.User,
                         minutes: int) -> Flag:
    if flag.author_id is None:
        raise UserInputError("This flag has no author to time out.")
    member = guild.get_member(flag.author_id)
    try:
        member = member or await guild.fetch_member(flag.author_id)
        await member.timeout(timedelta(minutes=minutes), reason=f"toxmod flag #{flag.id}, by {actor}")
    except discord.NotFound as exc:
        raise UserInputError("The author is no longer a member of this server.") from exc
    except discord.HTTPException as exc:
        raise UserInputError(f"Could not time out the author: {describe_failure(exc)}.") from exc
    action = f"author timed out {minutes} min"
    return await bot.db.write(lambda s: record_action(s, guild.id, flag.id, actor.id, action, minutes=minutes))


async def refresh_modlog_message(bot: ToxmodBot, guild: discord.Guild, flag: Flag) -> None:
    """Bring the flag's mod-log message up to date after a change made elsewhere (slash command)."""
    if not (flag.modlog_channel_id and flag.modlog_message_id):
        return
    channel = guild.get_channel(flag.modlog_channel_id)
    if channel is None:
        return
    try:
        await channel.get_partial_message(flag.modlog_message_id).edit(embed=flag_embed(flag), view=flag_view(flag))
    except discord.HTTPException as exc:
        log.warning("could not update mod-log message for flag %d: %s", flag.id, describe_failure(exc))


# -- button handlers (called by the DynamicItems in bot.modlog) -----------------------------------------
async def handle_button(interaction: discord.Interaction, action: str, flag_id: int) -> None:
    bot: ToxmodBot = interaction.client  # type: ignore[assignment]
    try:
        await _handle_button(bot, interaction, action, flag_id)
    except (NotFoundError, UserInputError) as exc:
        await send_ephemeral(interaction, str(exc))


async def _handle_button(bot: ToxmodBot, interaction: discord.Interaction, action: str, flag_id: int) -> None:
    guild = interaction.guild
    if guild is None:
        raise NotFoundError("Flags only exist in servers.")
    needed = ACTION_PERMISSIONS[action]
    if missing_permissions(interaction, **{needed: True}):
        log.warning("refused %s on flag %d by %s: lacks %s", action, flag_id, interaction.user.id, needed)
        raise UserInputError(f"You need the {needed.replace('_', ' ').title()} permission to do that.")
    flag = await load_flag(bot, guild.id, flag_id)
    if action == "timeout":
        await interaction.response.send_message(f"Time out <@{flag.author_id}> for how long?",
                                                view=timeout_view(flag.id), ephemeral=True)
        return
    if action in ("confirm", "dismiss"):
        if flag.status is not FlagStatus.PENDING:
            raise UserInputError(f"Flag #{flag.id} was already {flag.status.value} by another moderator.")
        status = FlagStatus.CONFIRMED if action == "confirm" else FlagStatus.DISMISSED
        flag = await review(bot, guild.id, flag.id, status, interaction.user.id)
    else:
        flag = await delete_flagged_message(bot, guild, flag, interaction.user.id)
    await interaction.response.edit_message(embed=flag_embed(flag), view=flag_view(flag))
    if action == "confirm":  # one click confirms; correcting the labels is optional
        await interaction.followup.send(f"Flag #{flag.id} confirmed as {', '.join(flag.verdict_labels)}. "
                                        "Correct the labels if needed:", view=verdict_view(flag), ephemeral=True)


async def handle_verdict_labels(interaction: discord.Interaction, flag_id: int, labels: list[str]) -> None:
    bot: ToxmodBot = interaction.client  # type: ignore[assignment]
    guild = interaction.guild
    if guild is None or missing_permissions(interaction, manage_messages=True):
        await send_ephemeral(interaction, "You need the Manage Messages permission to do that.")
        return
    flag = await bot.db.write(lambda s: relabel_flag(s, guild.id, flag_id, labels, interaction.user.id))
    if flag is None:
        await send_ephemeral(interaction, f"Flag #{flag_id} is not a confirmed flag in this server.")
        return
    await interaction.response.edit_message(content=f"Flag #{flag.id} labelled {', '.join(flag.verdict_labels)}.",
                                            view=None)
    await refresh_modlog_message(bot, guild, flag)


async def handle_timeout_choice(interaction: discord.Interaction, flag_id: int, minutes: int) -> None:
    bot: ToxmodBot = interaction.client  # type: ignore[assignment]
    try:
        guild = interaction.guild
        if guild is None or missing_permissions(interaction, moderate_members=True):
            raise UserInputError("You need the Moderate Members permission to do that.")
        flag = await timeout_author(bot, guild, await load_flag(bot, guild.id, flag_id), interaction.user, minutes)
    except (NotFoundError, UserInputError) as exc:
        await send_ephemeral(interaction, str(exc))
        return
    await interaction.response.edit_message(content=f"<@{flag.author_id}> timed out for {minutes} minutes.",
                                            view=None)
    await refresh_modlog_message(bot, guild, flag)


# -- slash commands ------------------------------------------------------------------------------------
def flag_line(flag: Flag) -> str:
    top = (shown_labels(flag) or [("?", 0.0)])[0]
    when = discord.utils.format_dt(flag.created_at, "R") if flag.created_at else ""
    return (f"**#{flag.id}** {flag.status.value} · {top[0]} {top[1]:.2f} · <@{flag.author_id}> in "
            f"<#{flag.channel_id}> {when}")


class FlagPages(discord.ui.View):
    """Previous / Next over a `/flags list` result, for the moderator who asked (ephemeral)."""

    def __init__(self, bot: ToxmodBot, owner_id: int, query: dict) -> None:
        super().__init__(timeout=300)
        self.bot, self.owner_id, self.query, self.total, self.page = bot, owner_id, query, 0, 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))

    async def render(self) -> discord.Embed:
        """The current page, with Previous/Next enabled only where there is a page to go to."""
        offset = self.page * PAGE
        flags, self.total = await self.bot.db.read(lambda s: list_flags(s, offset=offset, limit=PAGE, **self.query))
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        embed = discord.Embed(title=f"Flags ({self.total})", colour=discord.Colour.blurple(),
                              description="\n".join(flag_line(f) for f in flags) or "No flags match.")
        embed.set_footer(text=f"page {self.page + 1} of {self.pages}")
        return embed

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.owner_id

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.page = min(max(self.page + step, 0), self.pages - 1)
        embed = await self.render()
        await interaction.response.edit_message(embed=embed, view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._turn(interaction, +1)


class Review(commands.Cog):
    flags = GuardedGroup(name="flags", description="Review flagged messages", permissions=MODERATOR)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot

    @flags.command(name="list", description="List flags, newest first")
    @app_commands.describe(status="only flags in this state", member="only this member's", channel="only this channel")
    async def flags_list(self, interaction: discord.Interaction, status: FlagStatus | None = None,
                         member: discord.Member | None = None, channel: discord.TextChannel | None = None) -> None:
        query = {"guild_id": interaction.guild_id, "status": status,
                 "author_id": member.id if member else None, "channel_id": channel.id if channel else None}
        pages = FlagPages(self.bot, interaction.user.id, query)
        embed = await pages.render()
        await interaction.response.send_message(embed=embed, view=pages, ephemeral=True)

    @flags.command(name="show", description="Show one flag")
    async def flags_show(self, interaction: discord.Interaction, id: int) -> None:
        flag = await load_flag(self.bot, interaction.guild_id, id)
        embed = flag_embed(flag)
        if flag.modlog_error:
            embed.add_field(name="Mod-log", value=f"not posted: {flag.modlog_error}", inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _review(self, interaction: discord.Interaction, id: int, status: FlagStatus, note: str | None) -> None:
        flag = await review(self.bot, interaction.guild_id, id, status, interaction.user.id, note)
        await interaction.response.send_message(f"Flag #{flag.id} {status.value}.", embed=flag_embed(flag),
                                                ephemeral=True)
        await refresh_modlog_message(self.bot, interaction.guild, flag)

    @flags.command(name="confirm", description="Confirm a flag: the message broke the rules")
    async def flags_confirm(self, interaction: discord.Interaction, id: int, note: str | None = None) -> None:
        await self._review(interaction, id, FlagStatus.CONFIRMED, note)

    @flags.command(name="dismiss", description="Dismiss a flag: the message was fine")
    async def flags_dismiss(self, interaction: discord.Interaction, id: int, note: str | None = None) -> None:
        await self._review(interaction, id, FlagStatus.DISMISSED, note)

    @flags.command(name="member", description="A member's flag history and counts")
    async def flags_member(self, interaction: discord.Interaction, member: discord.Member) -> None:
        history = await self.bot.db.read(lambda s: member_history(s, interaction.guild_id, member.id))
        counts = ", ".join(f"{n} {status}" for status, n in history["by_status"].items())
        embed = discord.Embed(title=f"History of {member.display_name}", colour=discord.Colour.blurple(),
                              description="\n".join(flag_line(f) for f in history["latest"]) or "No flags.")
        embed.add_field(name="Messages scored", value=str(history["scored"]))
        embed.add_field(name="Flags", value=f"{history['flags']} ({counts})")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="scan", description="Score a text: all six labels and whether it would be flagged")
    @guarded(**MODERATOR)
    async def scan(self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 4000]) -> None:
        scores = await self.bot.scorer.score(text)
        policy = await self.bot.policy(interaction.guild_id)
        decision = policy.decide(scores)
        embed = discord.Embed(title="Would be flagged" if decision.flagged else "Would not be flagged",
                              description=spoiler_safe(text),
                              colour=discord.Colour.red() if decision.flagged else discord.Colour.green())
        for label in LABELS:
            mark = " ⚑" if label in decision.fired else ""
            embed.add_field(name=label, value=f"{decision.scores[label]:.3f} (threshold "
                                              f"{policy.thresholds[label]:.2f}){mark}")
        embed.add_field(name="Top two", value=", ".join(f"{lb} {p:.2f}" for lb, p in decision.top), inline=False)
        embed.set_footer(text=f"model {decision.model_version}")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="stats", description="Messages scored, flags per label, confirm and dismiss rates")
    @guarded(**MODERATOR)
    async def stats(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 365] = 7) -> None:
        since = utcnow() - timedelta(days=days)
        figures = await self.bot.db.read(lambda s: flag_counts_since(s, interaction.guild_id, since))
        embed = discord.Embed(title=f"Last {days} days", colour=discord.Colour.blurple())
        embed.add_field(name="Messages scored", value=str(figures["scored"]))
        embed.add_field(name="Flags", value=str(figures["flags"]))
        embed.add_field(name="Reviewed", value=str(figures["reviewed"]))
        rate = figures["confirm_rate"]
        embed.add_field(name="Confirmed", value="n/a" if rate is None else f"{100 * rate:.0f}%")
        rate = figures["dismiss_rate"]
        embed.add_field(name="Dismissed", value="n/a" if rate is None else f"{100 * rate:.0f}%")
        embed.add_field(name="Flags per label", inline=False,
                        value="\n".join(f"{label}: {n}" for label, n in figures["per_label"].items()))
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: ToxmodBot) -> None:
    await bot.add_cog(Review(bot))
