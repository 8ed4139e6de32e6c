"""Floods and raids on the live path: each message of a server that watches for them is shown to the
detector (bot/moderation/floods.py) before it is scored. One that belongs to a flood or raid is not scored:
it opens the episode's one flag or joins it, and the flag's mod-log post follows the episode as it grows.

A server can have the slow mode set in each channel an episode reaches (`/floods set slowmode_seconds`).
The bot's permission is checked first; whatever stops it, Discord's refusal included, is one line in the
flag's post. The slow mode stays until a moderator lifts it.
"""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.discord.app import ToxmodBot
from bot.discord.modlog import describe_failure, refresh_flag
from bot.moderation.floods import Detection, Sighting, flood_key
from bot.moderation.guild_config import GuildConfig
from bot.storage.episodes import (
    EpisodeFigures,
    EpisodeMessage,
    EpisodeUpdate,
    add_to_episode,
    note_slowmode,
    open_episode,
)
from bot.storage.errors import DatabaseError
from bot.storage.flags import get_flag
from bot.storage.messages import MessageRef
from bot.storage.tables import FlagKind

log = logging.getLogger(__name__)


class FloodWatch:
    """The live cog's floods and raids: one flag per episode, its post kept current, and the slow mode."""

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot
        self._writing: dict[int, asyncio.Lock] = {}  # per guild: an episode's flag is opened before it is joined
        self._showing: dict[int, bool] = {}  # flags whose post is being brought up to date -> once more after

    async def take(self, message: discord.Message, config: GuildConfig) -> bool:
        """Whether the message belongs to a flood or raid: then it is recorded with its episode's flag here,
        and must not be scored (False, always, where the server does not watch for them)."""
        settings, guild = config.floods, message.guild
        if not settings.enabled or guild is None:
            return False
        sighting = Sighting(flood_key(message.content), message.author.id, message.channel.id, message.id,
                            message.created_at, getattr(message.author, "joined_at", None))
        detection = self.bot.moderation.floods.observe(guild.id, sighting, settings)
        if detection is None:
            return False
        flag_id = await self._write(guild.id, detection, sighting, message.content)
        if flag_id is None:
            return True
        if settings.slowmode_seconds:
            for channel_id in detection.new_channels:
                await self._slow(guild, flag_id, channel_id, settings.slowmode_seconds)
        await self._show(guild, flag_id, config)
        return True

    async def _write(self, guild_id: int, detection: Detection, sighting: Sighting, text: str) -> int | None:
        """Open the episode's flag, or add the message to it; the flag's id (None if it could not be written)."""
        episode = detection.episode
        listed = [EpisodeMessage(s.channel_id, s.message_id, s.author_id, s.at) for s in detection.listed]
        update = EpisodeUpdate(
            listed=listed, figures=EpisodeFigures(episode.count, len(episode.members), episode.members_capped),
            current=MessageRef(guild_id, sighting.channel_id, sighting.message_id, sighting.author_id),
            text=text, model_version=self.bot.scorer.model.version)
        async with self._writing.setdefault(guild_id, asyncio.Lock()):
            try:
                if episode.flag_id is None:  # opening; or an earlier try to open failed: this one opens
                    if not update.listed:
                        update.listed.append(EpisodeMessage(sighting.channel_id, sighting.message_id,
                                                            sighting.author_id, sighting.at))
                    kind = FlagKind(episode.kind)
                    flag = await self.bot.db.write(lambda s: open_episode(s, guild_id, kind, update))
                    episode.flag_id = flag.id
                else:
                    flag_id = episode.flag_id
                    await self.bot.db.write(lambda s: add_to_episode(s, guild_id, flag_id, update))
            except DatabaseError as exc:
                log.warning("guild %s: message %d of a %s not recorded: %s", guild_id, sighting.message_id,
                            episode.kind, exc)
                return None
        return episode.flag_id

    async def _slow(self, guild: discord.Guild, flag_id: int, channel_id: int, seconds: int) -> None:
        """Set the slow mode in a channel the episode reached, and note on its flag how that went."""
        line, applied = await set_slowmode(guild.get_channel_or_thread(channel_id), channel_id, seconds, flag_id)
        if not applied:
            log.warning("guild %s: %s", guild.id, line)
        try:
            await self.bot.db.write(lambda s: note_slowmode(s, guild.id, flag_id, channel_id, line,
                                                            applied=applied, seconds=seconds))
        except DatabaseError as exc:
            log.warning("guild %s: slow mode of flag %d not noted: %s", guild.id, flag_id, exc)

    async def _show(self, guild: discord.Guild, flag_id: int, config: GuildConfig) -> None:
        """Post the flag, or bring its post up to date. Repeats come faster than Discord takes edits: while
        one update of a post is under way, the ones asked meanwhile become one more, with the latest figures."""
        if flag_id in self._showing:
            self._showing[flag_id] = True
            return
        self._showing[flag_id] = False
        try:
            while True:
                flag = await self.bot.db.read(lambda s: get_flag(s, guild.id, flag_id))
                # a post that failed is the delivery loop's to retry, not every repeat's
                if flag is not None and (flag.modlog_message_id is not None or not flag.modlog_attempts):
                    await refresh_flag(self.bot, guild, flag, config)
                if not self._showing[flag_id]:
                    return
                self._showing[flag_id] = False
        except DatabaseError as exc:
            log.warning("guild %s: the post of flag %d not updated: %s", guild.id, flag_id, exc)
        finally:
            del self._showing[flag_id]


async def set_slowmode(channel: discord.abc.GuildChannel | discord.Thread | None, channel_id: int, seconds: int,
                       flag_id: int) -> tuple[str, bool]:
    """Set a channel's (or thread's) slow mode to at least `seconds`, if the bot may: one line saying what
    happened, and whether the slow mode is in force."""
    if not isinstance(channel, (discord.TextChannel, discord.Thread)):
        return f"<#{channel_id}>: not set: not a text channel or thread (or gone)", False
    needed = "manage_threads" if isinstance(channel, discord.Thread) else "manage_channels"
    me = channel.guild.me
    if me is None or not getattr(channel.permissions_for(me), needed):
        return (f"<#{channel_id}>: not set: missing permission to set the slow mode "
                f"({needed.replace('_', ' ').title()})"), False
    if channel.slowmode_delay >= seconds:
        return f"<#{channel_id}>: already {channel.slowmode_delay} s", True
    try:
        await channel.edit(slowmode_delay=seconds, reason=f"toxmod: flood or raid, flag #{flag_id}")
    except discord.HTTPException as exc:
        return f"<#{channel_id}>: not set: {describe_failure(exc, 'set the slow mode')}", False
    return f"<#{channel_id}>: set to {seconds} s", True
