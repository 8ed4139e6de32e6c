"""Live scoring: every guild message and edit goes through the worker, flags go to the mod-log.

Also the "Report to moderators" message command, which is how toxicity the model missed reaches a
human, and the optional per-label automatic actions.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import ToxmodBot
from bot.errors import UserInputError
from bot.guild_config import GuildConfig
from bot.labels import LABELS
from bot.modlog import describe_failure, post_flag
from bot.scoring.policy import Decision
from bot.scoring.worker import WorkerStopped
from bot.storage.database import DatabaseError
from bot.storage.models import Flag, FlagOrigin
from bot.storage.repository import MessageRef, record_action, record_score, set_modlog_post

log = logging.getLogger(__name__)


async def publish_flag(bot: ToxmodBot, guild: discord.Guild, flag: Flag) -> None:
    """Post the flag in the guild's mod-log; on failure keep the flag, store why, and say so once."""
    config = await bot.guild_config(guild.id)
    channel = guild.get_channel(config.modlog_channel_id) if config.modlog_channel_id else None
    try:
        if config.modlog_channel_id is None:
            raise LookupError("no mod-log channel is set (an admin can run /modlog set)")
        if not isinstance(channel, discord.abc.Messageable):
            raise LookupError("the mod-log channel no longer exists")
        posted = await post_flag(channel, flag)
    except (discord.HTTPException, LookupError) as exc:
        reason = describe_failure(exc)
        if bot.modlog_failures.get(guild.id) != reason:
            log.warning("guild %s: flag %d kept but not posted: %s", guild.id, flag.id, reason)
        bot.modlog_failures[guild.id] = reason
        await bot.db.write(lambda s: set_modlog_post(s, flag.id, config.modlog_channel_id, None, reason))
        return
    bot.modlog_failures.pop(guild.id, None)
    await bot.db.write(lambda s: set_modlog_post(s, flag.id, posted.channel.id, posted.id, None))


def _scope(message: discord.Message) -> tuple[set[int], set[int]]:
    channels = {message.channel.id}
    parent = getattr(message.channel, "parent_id", None)
    if parent:
        channels.add(parent)
    roles = {role.id for role in getattr(message.author, "roles", ())}
    return channels, roles


class LiveScoring(commands.Cog):
    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot
        self.report_menu = app_commands.ContextMenu(name="Report to moderators", callback=self.report)
        self.report_menu.guild_only = True
        bot.tree.add_command(self.report_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.report_menu.name, type=self.report_menu.type)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        await self.handle(message, edited=False)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Edits are scored like new messages (people evade by editing), unless the text did not change."""
        before = payload.cached_message
        if before is not None and before.content == payload.message.content:
            return  # an embed unfurled or a pin changed: nothing new to read
        await self.handle(payload.message, edited=True)

    def _wanted(self, message: discord.Message) -> bool:
        return (message.guild is not None and not message.author.bot and message.webhook_id is None
                and bool(message.content and message.content.strip()))

    async def handle(self, message: discord.Message, *, edited: bool) -> None:
        if not self._wanted(message):
            return  # DMs, bots, webhooks, empty or attachment-only messages
        async with self.bot.handling():
            await self._score_and_log(message, edited)

    async def _score_and_log(self, message: discord.Message, edited: bool) -> None:
        guild = message.guild
        config = await self.bot.guild_config(guild.id)
        if config.is_exempt(*_scope(message)):
            return
        try:
            scores = await self.bot.scorer.score(message.content)
        except WorkerStopped:
            log.info("shutting down: message %d not scored", message.id)
            return
        decision = (await self.bot.policy(guild.id)).decide(scores)
        ref = MessageRef(guild.id, message.channel.id, message.id, message.author.id)
        try:
            _, flag = await self.bot.db.write(
                lambda s: record_score(s, ref, decision, message.content, edited=edited))
        except DatabaseError:
            log.exception("message %d scored but not logged", message.id)
            return
        if flag is None:
            return
        await self.automod(message, config, decision, flag)
        await publish_flag(self.bot, guild, flag)

    async def automod(self, message: discord.Message, config: GuildConfig, decision: Decision, flag: Flag) -> None:
        """The configured automatic actions, for labels whose score passed their automod threshold."""
        rules = [config.automod[label] for label in LABELS
                 if label in config.automod and decision.scores[label] >= config.automod[label].threshold]
        if not rules:
            return
        actions = []
        if any(rule.delete for rule in rules):
            try:
                await message.delete()
                actions.append("deleted by automod")
            except discord.HTTPException as exc:
                log.warning("automod could not delete message %d: %s", message.id, describe_failure(exc))
        minutes = max(rule.timeout_minutes for rule in rules)
        if minutes and isinstance(message.author, discord.Member):
            try:
                await message.author.timeout(timedelta(minutes=minutes), reason=f"toxmod automod, flag #{flag.id}")
                actions.append(f"timed out {minutes} min by automod")
            except discord.HTTPException as exc:
                log.warning("automod could not time out %s: %s", message.author.id, describe_failure(exc))
        for action in actions:
            updated = await self.bot.db.write(
                lambda s, a=action: record_action(s, flag.guild_id, flag.id, None, a, automod=True))
            flag.action_taken = updated.action_taken if updated else flag.action_taken

    async def report(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Any member: score the message and always open a flag marked as reported."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not (message.content and message.content.strip()):
            raise UserInputError("That message has no text to report; please tell a moderator directly.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        scores = await self.bot.scorer.score(message.content)
        decision = (await self.bot.policy(interaction.guild.id)).decide(scores)
        ref = MessageRef(interaction.guild.id, message.channel.id, message.id, message.author.id)
        _, flag = await self.bot.db.write(lambda s: record_score(
            s, ref, decision, message.content, force_flag=FlagOrigin.REPORTED, reporter_id=interaction.user.id))
        await publish_flag(self.bot, interaction.guild, flag)
        await interaction.followup.send(f"Thanks — the moderators have been notified (flag #{flag.id}).",
                                        ephemeral=True)


async def setup(bot: ToxmodBot) -> None:
    await bot.add_cog(LiveScoring(bot))
