"""Live scoring: every guild message and edit goes through the moderation pipeline, flags go to the mod-log.

Also the "Report to moderators" message command, which is how toxicity the model missed reaches a
human, and the optional per-label automatic actions.
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.decision import Decision
from bot.discord.app import ToxmodBot
from bot.discord.errors import UserInputError
from bot.discord.review.embeds import describe_failure
from bot.discord.review.modlog import publish_flag
from bot.labels import LABELS
from bot.moderation.guild_config import GuildConfig
from bot.moderation.pipeline import Incoming
from bot.moderation.worker import WorkerStopped
from bot.storage.database import DatabaseError
from bot.storage.models import Flag
from bot.storage.repository import MessageRef, record_action

log = logging.getLogger(__name__)


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
        assert guild is not None  # _wanted lets only guild messages through
        config = await self.bot.moderation.guild_config(guild.id)
        if config.is_exempt(*_scope(message)):
            return
        incoming = Incoming(MessageRef(guild.id, message.channel.id, message.id, message.author.id),
                            message.content, edited=edited)
        try:
            [outcome] = await self.bot.moderation.moderate([incoming], config)
        except WorkerStopped:
            log.info("shutting down: message %d not scored", message.id)
            return
        except DatabaseError:
            log.exception("message %d scored but not logged", message.id)
            return
        if outcome.flag is None:
            return
        await self.automod(message, config, outcome.decision, outcome.flag)
        await publish_flag(self.bot, guild, outcome.flag, config)

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
            updated = await self.bot.db.write(functools.partial(
                record_action, guild_id=flag.guild_id, flag_id=flag.id, actor_id=None, action=action, automod=True))
            flag.action_taken = updated.action_taken if updated else flag.action_taken

    async def report(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Any member: score the message and always open a flag marked as reported."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not (message.content and message.content.strip()):
            raise UserInputError("That message has no text to report; please tell a moderator directly.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        ref = MessageRef(interaction.guild.id, message.channel.id, message.id, message.author.id)
        report = Incoming(ref, message.content, reported_by=interaction.user.id)
        [outcome] = await self.bot.moderation.moderate([report])
        flag = outcome.flag
        assert flag is not None  # a report always opens a flag
        await publish_flag(self.bot, interaction.guild, flag)
        await interaction.followup.send(f"Thanks — the moderators have been notified (flag #{flag.id}).",
                                        ephemeral=True)
