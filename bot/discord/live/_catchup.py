"""Messages said while the bot was away: after a start or a reconnect, each channel's history since the last
message scored there is fetched and handed to live scoring, so a restart is no window for abuse.

Bounded twice (settings): at most `CATCHUP_MAX_MESSAGES` per channel and nothing older than
`CATCHUP_MAX_AGE_MINUTES`, so a bot that was down for a week does not rescore the week. Nothing is scored
twice: ids already in the database are skipped, and `first_sight` drops a message the gateway and the
catch-up both deliver in this process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta

import discord

from bot.discord.app import ToxmodBot
from bot.storage.messages import last_scored_ids, scored_ids

log = logging.getLogger(__name__)

SEEN_MAX = 20_000  # message ids remembered in this process


class CatchUp:
    def __init__(self, bot: ToxmodBot, handle: Callable[..., Awaitable[None]]) -> None:
        self.bot = bot
        self.handle = handle
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._lock = asyncio.Lock()

    def first_sight(self, message_id: int) -> bool:
        """True the first time this process sees a message id."""
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        if len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)
        return True

    async def run(self) -> int:
        """Fetch and score what every readable channel received since its last scored message; the count."""
        settings = self.bot.settings
        if settings.catchup_max_messages == 0 or settings.catchup_max_age_minutes == 0:
            return 0
        async with self._lock:  # a reconnect during a catch-up waits for it instead of fetching twice
            channels = [channel for guild in self.bot.guilds for channel in _readable(guild)]
            if not channels:
                return 0
            ids = [channel.id for channel in channels]
            newest = await self.bot.db.read(lambda s: last_scored_ids(s, ids))
            oldest = discord.utils.time_snowflake(
                discord.utils.utcnow() - timedelta(minutes=settings.catchup_max_age_minutes))
            total = 0
            for channel in channels:
                total += await self._channel(channel, max(newest.get(channel.id, 0), oldest))
            if total:
                log.info("caught up on %d messages sent while the bot was away", total)
            return total

    async def _channel(self, channel: discord.TextChannel | discord.Thread, after: int) -> int:
        try:
            missed = [m async for m in channel.history(after=discord.Object(after), oldest_first=True,
                                                       limit=self.bot.settings.catchup_max_messages)]
        except discord.HTTPException as exc:
            log.warning("catch-up: cannot read the history of channel %d: %s", channel.id, exc)
            return 0
        if not missed:
            return 0
        ids = [m.id for m in missed]
        done = await self.bot.db.read(lambda s: scored_ids(s, ids))
        todo = [m for m in missed if m.id not in done]
        await asyncio.gather(*(self.handle(m, edited=False) for m in todo))
        return len(todo)


def _readable(guild: discord.Guild) -> list[discord.TextChannel | discord.Thread]:
    me = guild.me
    if me is None:
        return []
    channels: list[discord.TextChannel | discord.Thread] = [*guild.text_channels, *guild.threads]
    return [c for c in channels if (perms := c.permissions_for(me)).read_message_history and perms.view_channel]
