"""Floods and raids: the same message posted again and again, by one member or by many new ones.

A flood is one member posting the same (normalised) text `repeats` times within `window_seconds`, in one
channel or across several. A raid is `raid_members` distinct members, each of whom joined at most
`raid_join_minutes` before posting, posting the same normalised text within `window_seconds`. A raid is
judged on the same text, not on any messages: new members chatting after an invite wave is ordinary, new
members all posting one text is not, and the same text is what moderators can act on as one thing.

The detector is pure: it is handed each message of a guild as a `Sighting` and answers whether the
message belongs to an episode (a flood or a raid in progress), so that the caller opens one flag for the
episode and adds every later repeat to it, instead of a flag per message, and skips scoring the repeats.
An episode lasts while its repeats keep coming: it ends once `window_seconds` pass without one, and a
later burst is a new episode.

Memory is bounded: per guild at most `max_sightings` recent messages (older ones leave the window as time
passes, the oldest first when a burst fills it), `max_episodes` episodes, `max_guilds` guilds (the least
recently active go first); an episode lists at most `LISTED` messages and `MEMBERS_TRACKED` members, and
counts the rest. A message's text is never kept, only a digest of its normalised form.

Times come from the messages themselves (Discord's snowflake times and members' join times), so the
detector has no clock of its own and a catch-up of old messages is judged by when they were sent. Each
guild is watched by the one process its shard runs in.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

EpisodeKind = Literal["flood", "raid"]

LISTED = 100  # messages an episode lists (the flag shows them); the rest are counted
MEMBERS_TRACKED = 1_000  # distinct members an episode remembers; past that, the count stops at this
CHANNELS_TRACKED = 25  # channels an episode remembers (slow mode is set in each, once)

_WHITESPACE = re.compile(r"\s+")


def flood_key(text: str) -> bytes:
    """What two messages must share to be "the same message": the text with Unicode compatibility forms,
    case, invisible characters and runs of whitespace folded away, as a 16-byte digest (the detector never
    keeps the text). Mentions, links and punctuation stay: "welcome @a" and "welcome @b" are different
    messages, or a greeter would flood by welcoming newcomers."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(ch for ch in folded if unicodedata.category(ch) not in ("Cf", "Cc") or ch.isspace())
    folded = _WHITESPACE.sub(" ", folded.casefold()).strip()
    return hashlib.blake2b(folded.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(frozen=True)
class FloodSettings:
    """One server's flood and raid settings; off unless a server turns them on (`/floods set`).

    `raid_members` 0 turns raid detection off (floods are still watched); `slowmode_seconds` 0 (the
    default) sets no slow mode.
    """

    enabled: bool = False
    repeats: int = 5
    window_seconds: int = 60
    raid_members: int = 10
    raid_join_minutes: int = 5
    slowmode_seconds: int = 0

    @classmethod
    def from_json(cls, stored: dict | None) -> FloodSettings:
        """The settings as stored in the guild settings' JSON column (missing keys: the defaults)."""
        known = {name: value for name, value in (stored or {}).items() if name in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict[str, object]:
        """Every field, as stored."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Sighting:
    """One message as the detector sees it: a digest of its normalised text, who, where and when."""

    key: bytes
    author_id: int
    channel_id: int
    message_id: int
    at: datetime
    joined_at: datetime | None = None  # when the author joined the guild; None: unknown (never "new")

    def is_new_member(self, settings: FloodSettings) -> bool:
        """Whether the author had joined at most `raid_join_minutes` before posting this."""
        return (self.joined_at is not None
                and self.at - self.joined_at <= timedelta(minutes=settings.raid_join_minutes))


@dataclass(eq=False)
class Episode:
    """A flood or raid in progress. `flag_id` is the caller's: the flag it opened for the episode."""

    kind: EpisodeKind
    key: bytes
    author_id: int | None  # the member, for a flood; None for a raid
    last_at: datetime
    count: int = 0
    listed: int = 0
    members: set[int] = field(default_factory=set)
    channels: dict[int, None] = field(default_factory=dict)  # in order of first sight
    flag_id: int | None = None

    @property
    def members_capped(self) -> bool:
        """True once more members took part than the episode remembers (the count is a lower bound)."""
        return len(self.members) >= MEMBERS_TRACKED

    def add(self, sightings: list[Sighting]) -> tuple[list[Sighting], list[int]]:
        """Count the sightings in; the ones still to be listed, and the channels first seen now."""
        new_channels = []
        for sighting in sightings:
            self.count += 1
            self.last_at = max(self.last_at, sighting.at)
            if len(self.members) < MEMBERS_TRACKED:
                self.members.add(sighting.author_id)
            if sighting.channel_id not in self.channels and len(self.channels) < CHANNELS_TRACKED:
                self.channels[sighting.channel_id] = None
                new_channels.append(sighting.channel_id)
        room = max(LISTED - self.listed, 0)
        listed = sightings[:room]
        self.listed += len(listed)
        return listed, new_channels


@dataclass(frozen=True)
class Detection:
    """The message belongs to `episode`: it opened it (`opened`: the caller opens the flag), or joined it.

    `listed`: the messages the flag should list now (on opening, every message that led to it; then each
    repeat, until the episode lists `LISTED`); `new_channels`: channels the episode reached only now."""

    episode: Episode
    opened: bool
    listed: tuple[Sighting, ...]
    new_channels: tuple[int, ...]


class _GuildWindow:
    """One guild's recent messages, by text digest, and its episodes in progress."""

    def __init__(self) -> None:
        self.order: deque[Sighting] = deque()  # every sighting in the window, in arrival order
        self.by_key: dict[bytes, deque[Sighting]] = {}  # the sightings not yet in an episode, by text
        self.episodes: dict[tuple[EpisodeKind, bytes, int | None], Episode] = {}
        self.latest: datetime | None = None

    def evict(self, now: datetime, window: timedelta, cap: int) -> None:
        """Drop sightings older than the window, and the oldest past `cap`; end episodes gone quiet."""
        cutoff = now - window
        while self.order and (self.order[0].at < cutoff or len(self.order) > cap):
            gone = self.order.popleft()
            queue = self.by_key.get(gone.key)
            if queue and queue[0] is gone:  # else it went into an episode already
                queue.popleft()
                if not queue:
                    del self.by_key[gone.key]
        for name, episode in list(self.episodes.items()):
            if episode.last_at < cutoff:
                del self.episodes[name]

    def take(self, key: bytes, wanted: list[Sighting]) -> None:
        """Remove sightings that went into an episode from the ones still counted for their text."""
        queue = self.by_key.get(key)
        if queue is None:
            return
        gone = {id(s) for s in wanted}
        kept = deque(s for s in queue if id(s) not in gone)
        if kept:
            self.by_key[key] = kept
        else:
            del self.by_key[key]


class FloodDetector:
    """Floods and raids per guild, from the messages it is shown (see the module's docstring)."""

    def __init__(self, *, max_sightings: int = 2_000, max_episodes: int = 50, max_guilds: int = 10_000) -> None:
        self.max_sightings = max_sightings
        self.max_episodes = max_episodes
        self.max_guilds = max_guilds
        self._guilds: OrderedDict[int, _GuildWindow] = OrderedDict()

    def window_size(self, guild_id: int) -> int:
        """How many recent messages of the guild the detector holds (for tests of its bounds)."""
        window = self._guilds.get(guild_id)
        return len(window.order) if window is not None else 0

    def episodes(self, guild_id: int) -> list[Episode]:
        """The guild's episodes in progress (as of the last message seen)."""
        window = self._guilds.get(guild_id)
        return list(window.episodes.values()) if window is not None else []

    def observe(self, guild_id: int, sighting: Sighting, settings: FloodSettings) -> Detection | None:
        """Count one message in; a `Detection` when it belongs to a flood or raid, else None."""
        window = self._window(guild_id)
        span = timedelta(seconds=settings.window_seconds)
        now = sighting.at if window.latest is None else max(window.latest, sighting.at)
        window.latest = now
        window.evict(now, span, self.max_sightings)
        if sighting.at < now - span:
            return None  # older than the window (a late catch-up): nothing to count it with
        joined = self._join(window, sighting, settings)
        if joined is not None:
            return joined
        window.order.append(sighting)
        window.by_key.setdefault(sighting.key, deque()).append(sighting)
        window.evict(now, span, self.max_sightings)
        return self._raid(window, sighting, settings, now - span) or self._flood(window, sighting, settings,
                                                                                 now - span)

    def _window(self, guild_id: int) -> _GuildWindow:
        window = self._guilds.get(guild_id)
        if window is None:
            window = self._guilds[guild_id] = _GuildWindow()
            while len(self._guilds) > self.max_guilds:
                self._guilds.popitem(last=False)
        else:
            self._guilds.move_to_end(guild_id)
        return window

    def _join(self, window: _GuildWindow, sighting: Sighting, settings: FloodSettings) -> Detection | None:
        """The episode in progress this message continues, if any: a raid on its text (for a new member),
        else this member's flood of it."""
        raid = window.episodes.get(("raid", sighting.key, None))
        if raid is not None and sighting.is_new_member(settings):
            return self._detected(raid, [sighting], opened=False)
        flood = window.episodes.get(("flood", sighting.key, sighting.author_id))
        if flood is not None:
            return self._detected(flood, [sighting], opened=False)
        return None

    def _raid(self, window: _GuildWindow, sighting: Sighting, settings: FloodSettings,
              cutoff: datetime) -> Detection | None:
        if settings.raid_members < 2 or not sighting.is_new_member(settings):
            return None
        same = [s for s in window.by_key.get(sighting.key, ()) if s.at >= cutoff and s.is_new_member(settings)]
        if len({s.author_id for s in same}) < settings.raid_members:
            return None
        return self._open(window, "raid", sighting, None, same)

    def _flood(self, window: _GuildWindow, sighting: Sighting, settings: FloodSettings,
               cutoff: datetime) -> Detection | None:
        same = [s for s in window.by_key.get(sighting.key, ())
                if s.at >= cutoff and s.author_id == sighting.author_id]
        if len(same) < settings.repeats:
            return None
        return self._open(window, "flood", sighting, sighting.author_id, same)

    def _open(self, window: _GuildWindow, kind: EpisodeKind, sighting: Sighting, author_id: int | None,
              sightings: list[Sighting]) -> Detection:
        window.take(sighting.key, sightings)
        episode = Episode(kind, sighting.key, author_id, last_at=sighting.at)
        window.episodes[(kind, sighting.key, author_id)] = episode
        while len(window.episodes) > self.max_episodes:  # the one quiet longest goes
            quietest = min(window.episodes, key=lambda name: window.episodes[name].last_at)
            del window.episodes[quietest]
        return self._detected(episode, sightings, opened=True)

    @staticmethod
    def _detected(episode: Episode, sightings: list[Sighting], *, opened: bool) -> Detection:
        listed, channels = episode.add(sightings)
        return Detection(episode, opened, tuple(listed), tuple(channels))
