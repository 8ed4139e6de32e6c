"""Live scoring: every guild message and edit goes through the moderation pipeline, and each new flag goes,
with the guild configuration already read for scoring, to the mod-log service that posts it.

Also the "Report to moderators" message command, which is how toxicity the model missed reaches a
human, the optional per-label automatic actions, and floods and raids (`_floods.py`): a message that
repeats one in progress joins its one flag instead of being scored.
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
from bot.discord.live._catchup import CatchUp
from bot.discord.live._context import with_context
from bot.discord.live._floods import FloodWatch
from bot.discord.modlog import describe_failure, notify_automod, publish_flag, publish_unsaved, refresh_flag
from bot.labels import LABELS
from bot.moderation.guild_config import GuildConfig
from bot.moderation.pipeline import Incoming, Unsaved
from bot.moderation.worker import WorkerStopped
from bot.storage.errors import DatabaseError
from bot.storage.flags import AUTOMOD, record_action, reports_since
from bot.storage.messages import MessageRef, latest_flag_for_message
from bot.storage.tables import Flag, FlagStatus, utcnow
from bot.storage.texts import same_text_scored

log = logging.getLogger(__name__)


def _scope(message: discord.Message) -> tuple[set[int], set[int]]:
    channels = {message.channel.id}
    parent = getattr(message.channel, "parent_id", None)
    if parent:
        channels.add(parent)
    roles = {role.id for role in getattr(message.author, "roles", ())}
    return channels, roles


class LiveScoring(commands.Cog):
    """Every message and edit scored as it arrives, the ones missed while disconnected caught up, and the "Report to
    moderators" menu."""

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot
        self.catchup = CatchUp(bot, self.handle)
        self.floods = FloodWatch(bot)
        self.report_menu = app_commands.ContextMenu(name="Report to moderators", callback=self.report)
        self.report_menu.guild_only = True
        bot.tree.add_command(self.report_menu)

    async def cog_unload(self) -> None:
        """Remove the report menu from the command tree when the extension unloads."""
        self.bot.tree.remove_command(self.report_menu.name, type=self.report_menu.type)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Score a new message."""
        await self.handle(message, edited=False)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Edits are scored like new messages (people evade by editing), unless the text did not change.

        "Changed" is judged against the digest of the text that was scored, not the message cache: after a
        restart the cache is empty, and a link preview unfurling would otherwise count as an edit.
        """
        message = payload.message
        if not self._wanted(message) or message.guild is None:
            return
        guild_id, text = message.guild.id, message.content
        if await self.bot.db.read(lambda s: same_text_scored(s, guild_id, message.id, text)):
            return  # an embed unfurled or a pin changed: nothing new to read
        await self.handle(message, edited=True)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Catch up on the messages sent while the bot was away."""
        await self.catchup.run()

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        """Catch up on the messages sent while the gateway connection was down."""
        await self.catchup.run()

    def _wanted(self, message: discord.Message) -> bool:
        return (message.guild is not None and not message.author.bot and message.webhook_id is None
                and bool(message.content and message.content.strip()))

    async def handle(self, message: discord.Message, *, edited: bool) -> None:
        """Score, decide and record one message (or edit) once, unless it is none of ours to moderate."""
        if not self._wanted(message):
            return  # DMs, bots, webhooks, empty or attachment-only messages
        if not edited and not self.catchup.first_sight(message.id):
            return  # the catch-up after a reconnect and the gateway both delivered it
        async with self.bot.handling():
            await self._score_and_log(message, edited)

    async def _score_and_log(self, message: discord.Message, edited: bool) -> None:
        guild = message.guild
        assert guild is not None  # noqa: S101 - narrows for mypy: _wanted lets only guild messages through
        config = await self.bot.moderation.guild_config(guild.id)
        if config.is_exempt(*_scope(message)):
            return
        if not edited and await self.floods.take(message, config):
            return  # a repeat of a flood or raid: recorded with its flag, not scored
        incoming = Incoming(MessageRef(guild.id, message.channel.id, message.id, message.author.id),
                            message.content, edited=edited)
        try:
            outcome = await self.bot.moderation.moderate_live(incoming, config)
        except WorkerStopped:
            log.info("shutting down: message %d not scored", message.id)
            return
        except DatabaseError as exc:  # not a full or read-only database (those spool): e.g. locked too long
            log.warning("message %d scored but not logged: %s", message.id, exc)
            return
        if isinstance(outcome, Unsaved):
            if outcome.decision.flagged:  # moderators see it now; it gets its buttons once it is saved
                await publish_unsaved(self.bot, guild, config, outcome)
            return
        if outcome.flag is None:
            return
        if not outcome.opened:  # an edit updated the message's pending flag
            await refresh_flag(self.bot, guild, outcome.flag, config)
            return
        await self.automod(message, config, outcome.decision, outcome.flag)
        await publish_flag(self.bot, guild, await with_context(self.bot, message, outcome.flag), config)

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
                actions.append(f"deleted {AUTOMOD}")
            except discord.HTTPException as exc:
                log.warning("automod could not delete message %d: %s", message.id,
                            describe_failure(exc, "delete the message"))
        minutes = max(rule.timeout_minutes for rule in rules)
        if minutes and isinstance(message.author, discord.Member):
            try:
                await message.author.timeout(timedelta(minutes=minutes), reason=f"toxmod automod, flag #{flag.id}")
                actions.append(f"timed out {minutes} min {AUTOMOD}")
            except discord.HTTPException as exc:
                log.warning("automod could not time out %s: %s", message.author.id,
                            describe_failure(exc, "time out the author"))
        for action in actions:
            updated = await self.bot.db.write(functools.partial(
                record_action, guild_id=flag.guild_id, flag_id=flag.id, actor_id=None, action=action, automod=True))
            flag.action_taken = updated.action_taken if updated else flag.action_taken
        if message.guild is not None:  # where a ladder is set, the member is told, and may appeal
            await notify_automod(self.bot, message.guild, flag, actions)

    async def report(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Any member: a message gets one open flag, which every further report joins; a member may file
        `REPORT_LIMIT_PER_HOUR` reports an hour (moderators any number), so reports cannot be used to flood
        the mod-log."""
        guild, reporter = interaction.guild, interaction.user.id
        if guild is None:
            raise app_commands.NoPrivateMessage()
        if not (message.content and message.content.strip()):
            raise UserInputError("That message has no text to report; please tell a moderator directly.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        limit, since = self.bot.settings.report_limit_per_hour, utcnow() - timedelta(hours=1)
        earlier = await self.bot.db.read(lambda s: latest_flag_for_message(s, guild.id, message.id))
        if earlier is not None and earlier.status is FlagStatus.PENDING and any(
                r.reporter_id == reporter for r in earlier.reports):
            raise UserInputError(f"You already reported this message (flag #{earlier.id}); the moderators have it.")
        if not interaction.permissions.manage_messages and await self.bot.db.read(
                lambda s: reports_since(s, guild.id, reporter, since)) >= limit:
            raise UserInputError(f"You have sent {limit} reports in the last hour, the most one member can; "
                                 "thank you — please try again later, or contact a moderator directly.")
        ref = MessageRef(guild.id, message.channel.id, message.id, message.author.id)
        [outcome] = await self.bot.moderation.moderate([Incoming(ref, message.content, reported_by=reporter)])
        flag = outcome.flag
        assert flag is not None  # noqa: S101 - narrows for mypy: a report always opens a flag or joins one
        if outcome.opened:
            await publish_flag(self.bot, guild, await with_context(self.bot, message, flag))
            answer = f"Thanks — the moderators have been notified (flag #{flag.id})."
        else:
            await refresh_flag(self.bot, guild, flag)
            answer = f"Thanks — your report was added to flag #{flag.id}, which the moderators already have."
        await interaction.followup.send(answer, ephemeral=True)
