"""Issue 26, lose nothing: a ladder step that Discord failed or a restart cut short is finished on a retry,
once (the timeout to the same end, the warning never sent twice), and given up in one line after its tries;
an appeal whose mod-log post failed is posted by the delivery's retries."""

from __future__ import annotations

import sys
from datetime import UTC, timedelta

import discord
import pytest
from sqlalchemy import select

from bot import create_bot
from bot.storage.cases import StepState
from bot.storage.tables import AuditEntry, Flag
from tests.bot.discord.test_appeals import appeal, appeals, timed_out_case
from tests.bot.discord.test_escalation import dms, fields, flag_and_confirm, post_of, set_ladder, strikes
from tests.support.world import World


def step_audits(world: World, flag: Flag) -> list[str]:
    with world.env.bot.db.sessions() as s:
        return [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.flag_id == flag.id))
                if a.action.startswith("ladder_step")]


def fail_timeouts(world: World, times: int | None) -> None:
    world.env.inject_error("PATCH", f"/guilds/{world.g.id}/members/{world.alice.id}", status=503,
                           message="Service Unavailable", times=times)


async def test_a_timeout_discord_failed_is_applied_on_a_retry_to_the_same_end(world: World) -> None:
    await set_ladder(world, "timeout 10m")
    fail_timeouts(world, times=1)
    flag = await flag_and_confirm(world)
    assert world.alice.member.timed_out_until is None and dms(world, world.alice) == []
    assert fields(post_of(world, flag))["Ladder"] == (
        "strike 1 in 30 days: applying the ladder's step (retrying: could not time out the member: Discord "
        "answered 503: Service Unavailable)")
    await world.env.advance_time(90)
    [strike] = strikes(world)
    until = world.alice.member.timed_out_until
    assert strike.state is StepState.DONE and strike.tries == 2 and strike.applied and until is not None
    assert strike.timeout_until is not None
    assert abs(until - strike.timeout_until.replace(tzinfo=UTC)) < timedelta(seconds=1)  # the claim's end
    assert fields(post_of(world, flag))["Ladder"] == "strike 1 in 30 days: timed out 10 minutes\nmember told by DM"
    assert len(dms(world, world.alice)) == 1
    assert step_audits(world, flag) == ["ladder_step_retry", "ladder_step"]


async def test_a_step_discord_keeps_failing_is_given_up_in_one_line(world: World) -> None:
    await set_ladder(world, "timeout 1d")
    fail_timeouts(world, times=None)
    flag = await flag_and_confirm(world)
    await world.env.advance_time(30 * 60)
    [strike] = strikes(world)
    assert strike.state is StepState.FAILED and strike.tries == 5 and not strike.applied
    ladder = fields(post_of(world, flag))["Ladder"]
    assert ladder.splitlines() == [
        "strike 1 in 30 days: could not time out the member: Discord answered 503: Service Unavailable (given up "
        "after 5 tries)", "member told by DM"]
    [told] = dms(world, world.alice)
    assert told.embeds[0].description.startswith("This is a warning.")  # no timeout claimed
    await world.env.advance_time(60 * 60)
    assert step_audits(world, flag)[-1] == "ladder_step_failed" and len(step_audits(world, flag)) == 5


async def test_a_timeout_whose_time_ran_out_while_discord_failed_is_not_applied_late(world: World) -> None:
    await set_ladder(world, "timeout 2m")
    fail_timeouts(world, times=2)
    flag = await flag_and_confirm(world)
    await world.env.advance_time(10 * 60)
    [strike] = strikes(world)
    assert strike.state is StepState.FAILED and strike.tries == 3 and world.alice.member.timed_out_until is None
    assert fields(post_of(world, flag))["Ladder"].splitlines()[0] == (
        "strike 1 in 30 days: could not time out the member: the timeout would have ended before a try succeeded")


async def test_a_step_a_restart_cut_short_is_finished_once_after_it(
        world: World, bot_options: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    await set_ladder(world, "timeout 10m")

    async def stopped(bot: object, guild: object, flag: Flag, plan: object) -> Flag:
        return flag  # the process stopped right after the claim: nothing applied, nothing recorded

    # the module as the bot loaded it: discord.py imports an extension's modules afresh for each bot
    monkeypatch.setattr(sys.modules["bot.discord.modlog._ladder"], "run_step", stopped)
    flag = await flag_and_confirm(world)
    monkeypatch.undo()
    [strike] = strikes(world)
    assert strike.state is StepState.CLAIMED and world.alice.member.timed_out_until is None
    old = world.env.bot
    new = create_bot(**bot_options)
    try:
        await world.env.restart_bot(new)
        await old.close()
        await world.env.advance_time(90)
        [strike] = strikes(world)
        assert strike.state is StepState.DONE and strike.tries == 2
        assert world.alice.member.timed_out_until is not None and len(dms(world, world.alice)) == 1
        assert fields(post_of(world, flag))["Ladder"].startswith("strike 1 in 30 days: timed out 10 minutes\n")
        await world.env.advance_time(30 * 60)  # nothing is left to retry
        assert len(dms(world, world.alice)) == 1 and step_audits(world, flag) == ["ladder_step"]
    finally:
        await new.close()


async def test_an_appeal_whose_post_failed_is_posted_on_a_retry(world: World) -> None:
    flag = await timed_out_case(world)
    world.env.inject_error("POST", f"/channels/{world.modlog.id}/messages", status=403, code=50013,
                           message="Missing Permissions", times=1)
    await appeal(world, world.alice)
    [filed] = appeals(world)
    assert filed.modlog_message_id is None and filed.modlog_error == "missing permission to post in the mod-log channel"
    await world.env.advance_time(60)
    [filed] = appeals(world)
    post = world.modlog.last_message
    assert filed.modlog_message_id == post.id and filed.modlog_error is None
    assert post.embeds[0].title == f"Appeal #{filed.id} of flag #{flag.id}"
    await world.mod.click(post, label="Accept")
    assert world.alice.member.timed_out_until is None
    await world.env.advance_time(60)
    assert [m.embeds[0].title for m in world.modlog.history()].count(post.embeds[0].title) == 1


async def test_a_member_lookup_discord_failed_is_retried_not_read_as_the_member_leaving(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member the bot's cache does not hold (no members intent) is looked up for each step, and a 503
    there is Discord failing, not the member having left."""
    await set_ladder(world, "timeout 10m")
    cached = discord.Guild.get_member
    monkeypatch.setattr(discord.Guild, "get_member",
                        lambda guild, member_id: None if member_id == world.alice.id else cached(guild, member_id))
    world.env.inject_error("GET", f"/guilds/{world.g.id}/members/{world.alice.id}", status=503,
                           message="Service Unavailable", times=1)
    flag = await flag_and_confirm(world)
    assert fields(post_of(world, flag))["Ladder"] == (
        "strike 1 in 30 days: applying the ladder's step (retrying: could not look the member up: Discord "
        "answered 503: Service Unavailable)")
    await world.env.advance_time(90)
    monkeypatch.undo()  # the test's own view of the member reads the cache too
    [strike] = strikes(world)
    assert strike.state is StepState.DONE and strike.tries == 2 and world.alice.member.timed_out_until is not None
    assert fields(post_of(world, flag))["Ladder"] == "strike 1 in 30 days: timed out 10 minutes\nmember told by DM"
