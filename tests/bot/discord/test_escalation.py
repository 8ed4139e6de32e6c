"""Issue 26: the escalation ladder end to end under SimCord: `/escalation set|show|off`, confirmed flags
climbing it (a warning DM, then timeouts), a reversed verdict undoing its step, the post saying what the
ladder did, a DM that cannot be delivered, and an action Discord would refuse described in one line."""

from __future__ import annotations

from datetime import timedelta

import discord
import simcord
from sqlalchemy import select

from bot.discord.errors import UserInputError
from bot.storage.cases import Strike
from bot.storage.tables import AuditEntry, Flag, FlagStatus
from tests.support.world import World

TOXIC = "you are a stupid idiot"
LADDER = "warn, timeout 10m, timeout 1d, ban"


def fields(message: discord.Message | simcord.ResponseMessage) -> dict[str, str]:
    return {f.name: f.value for f in message.embeds[0].fields}


async def set_ladder(world: World, steps: str = LADDER, **options: object) -> str:
    res = await world.admin.slash(world.general, "escalation set", steps=steps, **options)
    return res.response.content


async def flag_and_confirm(world: World, member: simcord.MemberActor | None = None) -> Flag:
    await (member or world.alice).send(world.general, TOXIC)
    return await confirm(world, world.flags()[-1])


async def confirm(world: World, flag: Flag) -> Flag:
    await world.mod.click(post_of(world, flag), custom_id=f"toxmod:flag:confirm:{flag.id}")
    return next(f for f in world.flags() if f.id == flag.id)


def post_of(world: World, flag: Flag) -> discord.Message:
    return next(m for m in world.modlog.history() if m.id == flag.modlog_message_id)


def dms(world: World, member: simcord.MemberActor) -> list[discord.Message]:
    return [m for m in member.user.dm_channel.history() if m.author.id == world.env.bot.user.id]


def strikes(world: World) -> list[Strike]:
    with world.env.bot.db.sessions() as s:
        return list(s.scalars(select(Strike).order_by(Strike.id)))


async def test_escalation_set_show_and_off_are_admins_and_audited(world: World) -> None:
    res = await world.admin.slash(world.general, "escalation show")
    assert "No escalation ladder" in res.response.content
    saved = await set_ladder(world, decay_days=14)
    assert saved.startswith("Saved.") and "2nd strike within 14 days: a 10-minute timeout" in saved
    res = await world.admin.slash(world.general, "escalation show")
    assert "4th strike within 14 days: a ban suggested to the moderators" in res.response.content
    assert "never bans" in res.response.content
    assert "not a step" in await set_ladder(world, "warn, kick")
    assert all(isinstance(getattr(e, "original", e), UserInputError) for e in world.env.errors)
    assert "escalation show" not in world.mod.available_commands(world.general)  # hidden without Manage Server
    res = await world.admin.slash(world.general, "escalation off")
    assert "off" in res.response.content
    res = await world.admin.slash(world.general, "escalation show")
    assert "No escalation ladder" in res.response.content
    with world.env.bot.db.sessions() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("escalation%")))]
    assert actions == ["escalation_set", "escalation_off"]


async def test_off_by_default_a_confirmed_flag_is_only_a_verdict(world: World) -> None:
    flag = await flag_and_confirm(world)
    assert flag.status is FlagStatus.CONFIRMED and strikes(world) == [] and dms(world, world.alice) == []
    assert "Ladder" not in fields(post_of(world, flag))


async def test_three_confirmed_flags_warn_then_time_out_and_a_reversal_undoes_its_step(world: World) -> None:
    await set_ladder(world)
    for _ in range(3):  # three flags waiting for review (once timed out, alice could not post more)
        await world.alice.send(world.general, TOXIC)
    first, second, third = world.flags()
    first = await confirm(world, first)
    [warning] = dms(world, world.alice)
    assert warning.embeds[0].title == "A moderator of Main confirmed a flag on your message"
    shown = fields(warning)
    assert "stupid idiot" in shown["What was flagged"] and shown["Rule"] == "toxic, insult: not allowed in Main"
    assert "10-minute timeout" in shown["What happens next"]
    assert [c.label for row in warning.components for c in row.children] == ["Appeal"]
    assert world.alice.member.timed_out_until is None
    ladder = fields(post_of(world, first))["Ladder"]
    assert ladder == "strike 1 in 30 days: warned\nmember told by DM"

    second = await confirm(world, second)
    assert world.alice.member.timed_out_until is not None
    assert dms(world, world.alice)[-1].embeds[0].description.startswith("You are timed out for 10 minutes.")
    assert fields(post_of(world, second))["Ladder"].startswith("strike 2 in 30 days: timed out 10 minutes\n")
    third = await confirm(world, third)
    until = world.alice.member.timed_out_until
    assert until is not None and until > discord.utils.utcnow() + timedelta(hours=23)
    assert "1 day" in fields(post_of(world, third))["Ladder"] and len(dms(world, world.alice)) == 3

    # reversing the third cuts the timeout to what the second still calls for; reversing that one lifts it
    res = await world.mod.slash(world.general, "flags dismiss", id=third.id)
    assert res.ephemeral
    until = world.alice.member.timed_out_until
    assert until is not None and until <= discord.utils.utcnow() + timedelta(minutes=10)
    assert "timeout cut to end <t:" in fields(post_of(world, third))["Ladder"].splitlines()[-1]
    await world.mod.slash(world.general, "flags dismiss", id=second.id)
    assert world.alice.member.timed_out_until is None
    assert fields(post_of(world, second))["Ladder"].endswith("strike withdrawn; timeout lifted")
    assert [s.revoked_at is None for s in strikes(world)] == [True, False, False]
    with world.env.bot.db.sessions() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.flag_id == second.id))]
    assert actions == ["confirmed", "strike", "ladder_step", "dismissed", "strike_revoked", "ladder_undone"]
    # the next confirmed flag is the second that counts again: the 10-minute timeout
    fourth = await flag_and_confirm(world)
    assert fields(post_of(world, fourth))["Ladder"].startswith("strike 2 in 30 days: timed out 10 minutes\n")


async def test_confirming_twice_applies_the_step_once(world: World) -> None:
    await set_ladder(world, "timeout 10m")
    flag = await flag_and_confirm(world)
    await world.mod.slash(world.general, "flags confirm", id=flag.id)  # a second moderator, by command
    assert len(strikes(world)) == 1 and len(dms(world, world.alice)) == 1
    with world.env.bot.db.sessions() as s:
        steps = s.scalars(select(AuditEntry).where(AuditEntry.action == "ladder_step")).all()
    assert len(steps) == 1


async def test_an_undeliverable_dm_is_recorded_once_and_a_refused_timeout_is_one_line(world: World) -> None:
    await set_ladder(world, "timeout 10m")
    dm_channel = world.alice.user.dm_channel
    world.env.inject_error("POST", f"/channels/{dm_channel.id}/messages", status=403, code=50007,
                           message="Cannot send messages to this user")
    flag = await flag_and_confirm(world)
    ladder = fields(post_of(world, flag))["Ladder"]
    assert ladder.splitlines()[1] == "DM undeliverable: missing permission to send the member a DM"
    # a member above the bot's role: Discord would refuse, so the bot does not try, and the post says why
    elders = world.g.create_role("Elders", position=50)
    elder = world.g.add_member(world.env.create_user("elder"), roles=[elders])
    await world.env.settle()
    flag = await flag_and_confirm(world, elder)
    ladder = fields(post_of(world, flag))["Ladder"]
    assert ladder.splitlines()[0] == ("strike 1 in 30 days: could not time out the member: the member's "
                                      "highest role is not below mine")
    assert elder.member.timed_out_until is None
    [told] = dms(world, elder)
    assert told.embeds[0].description.startswith("This is a warning. This is strike 1")  # no timeout claimed
    assert len(strikes(world)) == 2
