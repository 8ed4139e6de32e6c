"""Retrying the mod-log posts that failed: a missing permission, a deleted channel, a rate limit or an
outage never loses a flag, it only delays its post (each flag on its own backoff, see `set_modlog_post`)."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands, tasks

from bot.discord.app import ToxmodBot
from bot.discord.modlog._post import publish_flag
from bot.storage.errors import DatabaseError
from bot.storage.modlog_posts import flags_due_for_posting

log = logging.getLogger(__name__)

DELIVERY_INTERVAL = 15.0  # seconds between looks for flags whose mod-log post is due again
DELIVERY_BATCH = 50


class ModLogDelivery(commands.Cog):
    """The loop that posts due flags; a cog only so that the bot starts and stops it with the extension."""

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
            now = discord.utils.utcnow()
            due = await self.bot.db.read(lambda s: flags_due_for_posting(s, guild_ids, DELIVERY_BATCH, now))
        except DatabaseError as exc:
            log.warning("mod-log delivery skipped: %s", exc)
            return
        for flag in due:
            guild = self.bot.get_guild(flag.guild_id) if flag.guild_id else None
            if guild is not None:
                await publish_flag(self.bot, guild, flag)

    @deliver.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()
