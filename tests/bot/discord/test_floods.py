"""Floods and raids end to end under SimCord: one flag per episode, repeats never scored, per-server settings,
and the slow mode with its permission check."""

from __future__ import annotations

from collections.abc import Iterator

import discord
import numpy as np
import pytest
import simcord
from sqlalchemy import select

from bot.discord.errors import NotFoundError, UserInputError
from bot.moderation.feedback.verdicts import reviewed_flags
from bot.storage.tables import AuditEntry, Flag, FlagKind, FlagStatus
from tests.support.world import World

SPAM = "join my server for free stuff"  # clean to the model: only the flooding is wrong with it
RAID = "hello friend come join my server tonight"


@pytest.fixture
def forward_passes(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Rows of every forward pass the bot's model runs from now on."""
    model = world.env.bot.scorer.model
    forward, passes = model._forward, []

    def counting(windows: list[list[int]]) -> np.ndarray:
        passes.append(len(windows))
        return forward(windows)

    monkeypatch.setattr(model, "_forward", counting)
    yield passes


async def floods_set(world: World, actor: simcord.MemberActor | None = None,
                     channel: simcord.ChannelHandle | None = None, **options: object) -> str:
    res = await (actor or world.admin).slash(channel or world.general, "floods set", **options)
    return res.response.content


def fields(message: discord.Message) -> dict[str, str]:
    return {f.name: f.value for f in message.embeds[0].fields}


def episodes(world: World) -> list[Flag]:
    return [flag for flag in world.flags() if flag.is_episode]


async def test_a_flood_of_thirty_opens_one_flag_listing_them_and_scores_no_repeat(
        world: World, forward_passes: list[int]) -> None:
    assert "**on**" in await floods_set(world, enabled=True)
    scorer = world.env.bot.scorer
    scored_before = scorer.scored_total
    sent = [await world.alice.send(world.general, SPAM) for _ in range(30)]
    [flag] = world.flags()
    assert flag.kind is FlagKind.FLOOD and flag.author_id == world.alice.id and flag.message_id is None
    assert [m.message_id for m in flag.listed] == [m.id for m in sent]
    assert flag.episode["messages"] == 30 and flag.episode["members"] == 1 and flag.text == SPAM
    # the four before the threshold were scored (one forward pass, then the repeat cache); the rest never were
    assert scorer.scored_total - scored_before == 4 and len(forward_passes) == 1
    rows = world.scored()
    assert len(rows) == 30 and [row.toxic is None for row in rows] == [False] * 4 + [True] * 26
    [post] = world.modlog.history()
    assert post.id == flag.modlog_message_id
    assert post.embeds[0].title == f"Flag #{flag.id} · flood: 30 messages from one member"
    shown = fields(post)
    assert shown["Member"] == world.alice.mention and shown["Channels"] == f"<#{world.general.id}>"
    assert shown["Messages"].startswith("30 (") and str(sent[0].id) in shown["Messages"]
    assert SPAM.split()[0] in post.embeds[0].description
    buttons = {c.label: c.disabled for row in post.components for c in row.children}
    assert buttons == {"Confirm": False, "Dismiss": False, "Delete message": True, "Timeout author": False}
    res = await world.mod.click(post, label="Confirm")
    assert res.followups == [] or all("labels" not in (m.content or "") for m in res.followups)
    [flag] = world.flags()
    assert flag.status is FlagStatus.CONFIRMED and flag.verdict_labels is None
    assert world.env.bot.db.read_sync(lambda s: reviewed_flags(s, world.g.id)) == []  # never training data


async def test_a_raid_of_ten_new_members_opens_one_flag_listing_them(world: World) -> None:
    await floods_set(world, enabled=True)
    await world.env.advance_time(600)  # the world's members are no longer new
    for member in (world.alice, world.bob):
        await member.send(world.general, RAID)
    raiders = [world.g.add_member(world.env.create_user(f"raider{i}")) for i in range(11)]
    await world.env.settle()
    for raider in raiders[:10]:
        await raider.send(world.general, RAID)
    [flag] = episodes(world)
    assert flag.kind is FlagKind.RAID and flag.author_id is None
    assert sorted({m.author_id for m in flag.listed}) == sorted(r.id for r in raiders[:10])
    post = world.modlog.last_message
    assert post.embeds[0].title == f"Flag #{flag.id} · raid: 10 messages from 10 new members"
    assert all(r.mention in fields(post)["Members"] for r in raiders[:10])
    assert [b.disabled for row in post.components for b in row.children][-1]  # nobody to time out alone
    await raiders[10].send(world.general, RAID.upper())
    [flag] = episodes(world)
    assert flag.episode == {"messages": 11, "members": 11, "members_capped": False} and len(flag.listed) == 11
    assert len(world.modlog.history()) == 1 and "11 new members" in world.modlog.last_message.embeds[0].title


async def test_off_by_default_every_message_is_moderated_on_its_own(world: World) -> None:
    res = await world.admin.slash(world.general, "floods show")
    assert "off here (the default)" in res.response.content
    for _ in range(30):
        await world.alice.send(world.general, SPAM)
    assert world.flags() == [] and world.modlog.history() == []
    assert len(world.scored()) == 30 and all(row.toxic is not None for row in world.scored())


async def test_slow_mode_is_set_where_the_bot_may_and_a_missing_permission_is_one_line(world: World) -> None:
    locked = world.g.create_text_channel("locked", overwrites={world.g.me: discord.PermissionOverwrite(
        manage_channels=False)})
    await world.env.settle()
    await floods_set(world, enabled=True, repeats=4, slowmode_seconds=30)
    for channel in (world.general, locked, world.general, locked):
        await world.alice.send(channel, SPAM)
    bot = world.env.bot
    assert bot.get_channel(world.general.id).slowmode_delay == 30
    assert bot.get_channel(locked.id).slowmode_delay == 0
    lines = fields(world.modlog.last_message)["Slow mode"].splitlines()
    assert lines == [f"<#{world.general.id}>: set to 30 s",
                     f"<#{locked.id}>: not set: missing permission to set the slow mode (Manage Channels)"]
    [flag] = world.flags()
    with bot.db.sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.flag_id == flag.id).order_by(AuditEntry.id))
        assert [(e.action, e.actor_id, e.details["channel_id"]) for e in entries] == [
            ("slowmode_set", None, world.general.id), ("slowmode_failed", None, locked.id)]


async def test_discord_refusing_the_slow_mode_is_described_in_the_post(world: World) -> None:
    await floods_set(world, enabled=True, repeats=3, slowmode_seconds=10)
    world.env.inject_error("PATCH", f"/channels/{world.general.id}", status=403, code=50013,
                           message="Missing Permissions")
    for _ in range(3):
        await world.alice.send(world.general, SPAM)
    assert fields(world.modlog.last_message)["Slow mode"] == (
        f"<#{world.general.id}>: not set: missing permission to set the slow mode")
    assert world.env.bot.get_channel(world.general.id).slowmode_delay == 0


async def test_thresholds_are_each_servers_own(world: World) -> None:
    other_admins = world.other.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    other_admin = world.other.add_member(world.env.create_user("other-admin"), roles=[other_admins])
    await world.env.settle()
    await floods_set(world, enabled=True, repeats=3)
    for _ in range(5):
        await world.other_member.send(world.other_general, SPAM)
    assert world.flags() == []  # Other never turned it on
    assert "10 times" in await floods_set(world, other_admin, world.other_general, enabled=True, repeats=10)
    for _ in range(5):
        await world.other_member.send(world.other_general, SPAM)
    assert world.flags() == []
    for _ in range(3):
        await world.alice.send(world.general, SPAM)
    [flag] = world.flags()
    assert flag.guild_id == world.g.id and flag.episode["messages"] == 3
    res = await world.admin.slash(world.general, "floods show")
    assert "3 times" in res.response.content
    res = await world.other_mod.slash(world.other_general, "flags show", id=flag.id)
    assert res.response.content == f"No flag #{flag.id} in this server."
    assert all(isinstance(getattr(e, "original", e), NotFoundError) for e in world.env.errors)


async def test_floods_settings_need_manage_server_and_are_audited(world: World) -> None:
    assert not any(c.startswith("floods") for c in world.mod.available_commands(world.general))
    with pytest.raises(simcord.SetupError, match="not visible"):
        await world.alice.slash(world.general, "floods set", enabled=True)
    assert "at least one setting" in await floods_set(world)
    assert "at least 2 members" in await floods_set(world, raid_members=1)
    assert all(isinstance(getattr(e, "original", e), UserInputError) for e in world.env.errors)
    text = await floods_set(world, enabled=True, raid_members=0, window_seconds=30)
    assert "Raids** are not watched" in text and "within 30 s" in text
    with world.env.bot.db.sessions() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "floods_set"))
    assert entry.actor_id == world.admin.id and entry.guild_id == world.g.id
    assert entry.details == {"floods": {"enabled": True, "window_seconds": 30, "raid_members": 0}}
