"""The flood and raid detector on its own: what counts as the same message, the window, episodes, bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from bot.moderation.floods import LISTED, FloodDetector, FloodSettings, Sighting, flood_key

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ON = FloodSettings(enabled=True)  # 5 repeats in 60 s; 10 members new for 5 min
GUILD = 1
_ids = count(1000)


def seen(text: str, author: int, at: float, *, channel: int = 10, joined: float | None = None) -> Sighting:
    """A message `at` seconds after T0; `joined`: seconds after T0 its author joined (None: long ago)."""
    return Sighting(flood_key(text), author, channel, next(_ids), T0 + timedelta(seconds=at),
                    T0 + timedelta(seconds=joined) if joined is not None else T0 - timedelta(days=30))


def test_the_same_message_is_the_same_whatever_its_case_width_and_invisible_characters() -> None:
    same = ["Join my server NOW", "join my server now", "ｊｏｉｎ my server now", "join\u200b my  server\nnow ",
            "JOIN MY SERVER NOW"]
    assert len({flood_key(text) for text in same}) == 1
    different = ["join my server now", "join my server now!", "welcome <@1>", "welcome <@2>",
                 "https://a.example/1", "https://a.example/2"]
    assert len({flood_key(text) for text in different}) == len(different)
    assert len(flood_key("x" * 4000)) == 16  # a digest, never the text


def test_a_flood_opens_once_at_the_threshold_then_every_repeat_joins_it() -> None:
    detector = FloodDetector()
    assert [detector.observe(GUILD, seen("buy now", 7, i), ON) for i in range(4)] == [None] * 4
    opened = detector.observe(GUILD, seen("buy now", 7, 4), ON)
    assert opened is not None and opened.opened and opened.episode.kind == "flood"
    assert opened.episode.author_id == 7 and len(opened.listed) == 5 and opened.episode.count == 5
    for i in range(5, 30):
        joined = detector.observe(GUILD, seen("BUY NOW", 7, i), ON)
        assert joined is not None and not joined.opened and joined.episode is opened.episode
        assert len(joined.listed) == 1
    assert opened.episode.count == 30 and opened.episode.members == {7}
    assert detector.observe(GUILD, seen("buy now", 8, 31), ON) is None  # someone else: theirs is counted apart


def test_a_flood_counts_across_channels_and_names_each_channel_once() -> None:
    detector = FloodDetector()
    detections = [detector.observe(GUILD, seen("spam", 7, i, channel=10 + i % 3), ON) for i in range(8)]
    opened = detections[4]
    assert opened is not None and opened.new_channels == (10, 11, 12)
    assert all(d is not None and d.new_channels == () for d in detections[5:])


def test_repeats_spread_wider_than_the_window_are_no_flood() -> None:
    detector = FloodDetector()
    assert all(detector.observe(GUILD, seen("daily reminder", 7, 20 * i), ON) is None for i in range(10))
    tight = FloodSettings(enabled=True, repeats=3, window_seconds=45)
    results = [detector.observe(2, seen("x", 7, at), tight) for at in (0, 20, 50, 70, 85)]
    assert results[:4] == [None] * 4 and results[4] is not None  # 50, 70, 85: three within 45 s


def test_an_episode_ends_after_a_quiet_window_and_a_later_burst_is_a_new_one() -> None:
    detector = FloodDetector()
    first = [detector.observe(GUILD, seen("spam", 7, i), ON) for i in range(6)][-1]
    assert first is not None and detector.episodes(GUILD) == [first.episode]
    later = [detector.observe(GUILD, seen("spam", 7, 200 + i), ON) for i in range(5)]
    assert later[:4] == [None] * 4 and later[4] is not None and later[4].opened
    assert later[4].episode is not first.episode and detector.episodes(GUILD) == [later[4].episode]


def test_a_raid_is_new_members_posting_the_same_text() -> None:
    detector = FloodDetector()
    for member in range(3):  # long-standing members saying it do not make a raid
        assert detector.observe(GUILD, seen("free nitro", 100 + member, 1), ON) is None
    results = [detector.observe(GUILD, seen("free nitro", 200 + m, 10 + m, joined=m), ON) for m in range(10)]
    assert results[:9] == [None] * 9
    raid = results[9]
    assert raid is not None and raid.opened and raid.episode.kind == "raid" and raid.episode.author_id is None
    assert sorted(s.author_id for s in raid.listed) == [200 + m for m in range(10)]
    joined = detector.observe(GUILD, seen("Free Nitro", 300, 30, joined=25), ON)
    assert joined is not None and joined.episode is raid.episode and len(raid.episode.members) == 11
    assert detector.observe(GUILD, seen("free nitro", 101, 31), ON) is None  # an old member: not the raid
    assert detector.observe(GUILD, seen("hello", 301, 32, joined=25), ON) is None


def test_members_are_new_only_for_the_join_window_and_raids_can_be_off() -> None:
    detector = FloodDetector()
    late = [detector.observe(GUILD, seen("hi all", 200 + m, 400 + m, joined=m), ON) for m in range(12)]
    assert late == [None] * 12  # each posted more than 5 minutes after joining
    off = FloodSettings(enabled=True, raid_members=0)
    assert all(detector.observe(2, seen("hi all", 200 + m, m, joined=0), off) is None for m in range(12))


def test_a_message_older_than_the_window_counts_for_nothing() -> None:
    detector = FloodDetector()
    detector.observe(GUILD, seen("now", 7, 1000), ON)
    assert all(detector.observe(GUILD, seen("old", 7, i), ON) is None for i in range(10))
    assert detector.window_size(GUILD) == 1


def test_memory_is_bounded_per_guild_per_episode_and_in_guilds() -> None:
    detector = FloodDetector(max_sightings=100, max_episodes=3, max_guilds=5)
    for i in range(1000):  # a busy guild: a thousand different messages in a second
        detector.observe(GUILD, seen(f"message {i}", i, i / 1000), ON)
    assert detector.window_size(GUILD) == 100
    last = None
    for i in range(LISTED + 50):
        last = detector.observe(GUILD, seen("spam", 7, 2 + i / 100), ON)
    assert last is not None and last.listed == () and last.episode.count == LISTED + 50
    assert last.episode.listed == LISTED
    for author in range(10):  # more floods at once than the guild keeps episodes
        for i in range(5):
            detector.observe(GUILD, seen("more spam", 500 + author, 4 + author / 10 + i / 100), ON)
    assert len(detector.episodes(GUILD)) == 3
    for guild in range(2, 10):
        detector.observe(guild, seen("hi", 7, 5), ON)
    assert detector.window_size(GUILD) == 0 and detector.window_size(9) == 1  # the least recent guild went


@pytest.mark.parametrize("stored", [None, {}, {"enabled": True, "repeats": 3, "unknown": 1}])
def test_settings_read_from_storage_keep_the_defaults_for_what_is_missing(stored: dict | None) -> None:
    settings = FloodSettings.from_json(stored)
    assert settings.enabled == bool(stored and stored.get("enabled"))
    assert settings.repeats == (3 if stored and "repeats" in stored else 5) and settings.slowmode_seconds == 0
    assert FloodSettings.from_json(settings.to_json()) == settings
