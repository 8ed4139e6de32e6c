"""Retrying what failed or was cut short: a flag's or an appeal's mod-log post that a missing permission, a
deleted channel, a rate limit or an outage refused, and a ladder step that Discord failed or a crash
interrupted. Nothing is lost, only delayed: each post on its own backoff (`set_modlog_post`,
`set_appeal_post`), each step at most STEP_TRIES times (bot/storage/strikes.py). The loop's first round
runs as soon as the bot is ready, so what a crash left behind is picked up at start-up."""

from __future__ import annotations

import logging
from datetime import datetime

import discord
from discord.ext import commands, tasks

from bot.discord.app import ToxmodBot
from bot.discord.modlog._appeals import post_appeal
from bot.discord.modlog._ladder import run_step
from bot.discord.modlog._post import publish_flag, refresh_flag
from bot.moderation.strikes import StrikePlan, retry_step
from bot.storage.appeals import appeals_due_for_posting
from bot.storage.errors import DatabaseError
from bot.storage.flags import get_flag
from bot.storage.modlog_posts import flags_due_for_posting
from bot.storage.strikes import due_strikes

log = logging.getLogger(__name__)

DELIVERY_INTERVAL = 15.0  # seconds between looks for flags whose mod-log post is due again
DELIVERY_BATCH = 50


class ModLogDelivery(commands.Cog):
    """The loop that posts due flags and appeals and retries due ladder steps; a cog only so that the bot
    starts and stops it with the extension."""

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot
        self.deliver.start()

    async def cog_unload(self) -> None:
        self.deliver.cancel()

    @tasks.loop(seconds=DELIVERY_INTERVAL)
    async def deliver(self) -> None:
        guild_ids = [guild.id for guild in self.bot.guilds]
        if not guild_ids:
            return
        try:
            await self._flags(guild_ids)
            await self._appeals(guild_ids)
            await self._steps(guild_ids)
        except DatabaseError as exc:
            log.warning("mod-log delivery skipped: %s", exc)

    async def _flags(self, guild_ids: list[int]) -> None:
        now = discord.utils.utcnow()
        due = await self.bot.db.read(lambda s: flags_due_for_posting(s, guild_ids, DELIVERY_BATCH, now))
        for flag in due:
            guild = self.bot.get_guild(flag.guild_id) if flag.guild_id else None
            if guild is not None:
                await publish_flag(self.bot, guild, flag)

    async def _appeals(self, guild_ids: list[int]) -> None:
        now = discord.utils.utcnow()
        due = await self.bot.db.read(lambda s: appeals_due_for_posting(s, guild_ids, DELIVERY_BATCH, now))
        for appeal in due:
            guild = self.bot.get_guild(appeal.guild_id)
            if guild is not None:
                await post_appeal(self.bot, guild, appeal)

    async def _steps(self, guild_ids: list[int]) -> None:
        now = discord.utils.utcnow()
        due = await self.bot.db.read(lambda s: due_strikes(s, guild_ids, now, DELIVERY_BATCH))
        for guild_id, flag_id in due:
            guild = self.bot.get_guild(guild_id)
            if guild is not None:
                await self._step(guild, flag_id, now)

    async def _step(self, guild: discord.Guild, flag_id: int, now: datetime) -> None:
        """One more try at a due ladder step (or giving it up), and its flag's post brought up to date."""
        turn = await self.bot.db.write(lambda s: retry_step(s, guild.id, flag_id, now))
        flag = await self.bot.db.read(lambda s: get_flag(s, guild.id, flag_id))
        if turn is None or flag is None:
            return
        if isinstance(turn, StrikePlan):
            log.info("guild %s: retrying the ladder step of flag %d (try %d)", guild.id, flag_id, turn.tries)
            flag = await run_step(self.bot, guild, flag, turn)
        await refresh_flag(self.bot, guild, flag)

    @deliver.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()
