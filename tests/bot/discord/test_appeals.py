"""Issue 26: appeals end to end under SimCord: a member appeals from the ladder's DM, the appeal is posted in
the mod-log with its case, a moderator accepts (the timeout lifted, the verdict dismissed) or rejects with a
note sent to the member; a case is appealed once, only by its member; `/appeals list` shows what is open."""

from __future__ import annotations

import simcord
from sqlalchemy import select

from bot import create_bot
from bot.discord.modlog._ladder import appeal_view
from bot.storage.cases import Appeal, AppealStatus, Strike
from bot.storage.tables import AuditEntry, Flag, FlagStatus
from tests.bot.discord.test_embeds_and_failures import private_answer
from tests.bot.discord.test_escalation import TOXIC, dms, fields, flag_and_confirm, set_ladder
from tests.support.world import World

WHY = "I was quoting the rules back at him, **not** insulting anyone"


async def appeal(world: World, member: simcord.MemberActor, text: str = WHY) -> simcord.InteractionResult:
    """Press Appeal under the member's latest DM from the bot and send `text`."""
    shown = await member.user.click(dms(world, member)[-1], label="Appeal")
    assert shown.modal is not None and shown.modal["title"] == "Appeal this decision"
    return await member.user.submit_modal(shown, {"appeal_text": text})


def appeals(world: World) -> list[Appeal]:
    with world.env.bot.db.sessions() as s:
        return list(s.scalars(select(Appeal).order_by(Appeal.id)))


async def timed_out_case(world: World) -> Flag:
    await set_ladder(world, "timeout 10m")
    flag = await flag_and_confirm(world)
    assert world.alice.member.timed_out_until is not None
    return flag


async def test_an_accepted_appeal_lifts_the_timeout_and_dismisses_the_verdict(world: World) -> None:
    flag = await timed_out_case(world)
    res = await appeal(world, world.alice)
    assert "sent to the moderators" in private_answer(res).content
    [filed] = appeals(world)
    assert filed.member_id == world.alice.id and filed.flag_id == flag.id and filed.text == WHY
    post = world.modlog.last_message
    assert post.embeds[0].title == f"Appeal #{filed.id} of flag #{flag.id}"
    assert "\\*\\*not\\*\\*" in post.embeds[0].description  # the member's text, shown inert
    assert fields(post)["Member"] == f"<@{world.alice.id}>" and "timed out 10 minutes" in fields(post)["Ladder"]
    listed = await world.mod.slash(world.general, "appeals list")
    assert f"flag #{flag.id}" in listed.response.embeds[0].description

    await world.mod.click(post, label="Accept")
    assert world.alice.member.timed_out_until is None
    [flag] = world.flags()
    assert flag.status is FlagStatus.DISMISSED and flag.verdict_labels == []  # clean training data now
    assert f"appeal #{filed.id} accepted" in (flag.note or "")
    [filed] = appeals(world)
    assert filed.status is AppealStatus.ACCEPTED and filed.decided_by == world.mod.id and filed.dm == "sent"
    with world.env.bot.db.sessions() as s:
        [strike] = s.scalars(select(Strike))
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.flag_id == flag.id))]
    assert strike.revoked_at is not None and strike.undo == "strike withdrawn; timeout lifted"
    assert actions[-6:] == ["appeal_filed", "appeal_accepted", "dismissed", "strike_revoked", "ladder_undone",
                            "appeal_dm"]
    told = dms(world, world.alice)[-1]
    assert told.embeds[0].title == "Your appeal to Main was accepted"
    post = next(m for m in world.modlog.history() if m.id == post.id)
    assert all(c.disabled for row in post.components for c in row.children)
    assert f"Accepted by <@{world.mod.id}>" in fields(post)["Status"]
    listed = await world.mod.slash(world.general, "appeals list")
    assert listed.response.embeds[0].description == "No open appeals."
    stats = fields((await world.mod.slash(world.general, "stats")).response)
    assert stats["Strikes"] == "1 (1 withdrawn)" and stats["Appeals"] == "0 open, 1 accepted, 0 rejected"


async def test_a_rejected_appeal_keeps_the_verdict_and_sends_the_note(world: World) -> None:
    await timed_out_case(world)
    await appeal(world, world.alice)
    shown = await world.mod.click(world.modlog.last_message, label="Reject")
    assert shown.modal is not None
    await world.mod.submit_modal(shown, {"reject_note": "Quoting an insult is still posting it."})
    [filed] = appeals(world)
    assert filed.status is AppealStatus.REJECTED and filed.note == "Quoting an insult is still posting it."
    assert world.flags()[0].status is FlagStatus.CONFIRMED and world.alice.member.timed_out_until is not None
    told = dms(world, world.alice)[-1]
    assert told.embeds[0].title == "Your appeal to Main was rejected"
    assert fields(told)["Note from the moderators"] == "Quoting an insult is still posting it\\."  # inert


async def test_a_case_is_appealed_once_and_only_by_its_member(world: World) -> None:
    flag = await timed_out_case(world)
    await appeal(world, world.alice)
    again = await world.alice.user.click(dms(world, world.alice)[-1], label="Appeal")
    assert again.modal is None and "already appealed" in private_answer(again).content
    # bob holding a button for alice's case (a forged or copied one): told there is no case of his
    bob_user = world.env.bot.get_user(world.bob.id) or await world.env.bot.fetch_user(world.bob.id)
    await bob_user.send("forged", view=appeal_view(world.g.id, flag.id))
    await world.env.settle()
    res = await world.bob.user.click(dms(world, world.bob)[-1], label="Appeal")
    assert res.modal is None and private_answer(res).content == "There is no case of yours to appeal here."
    assert len(appeals(world)) == 1


async def test_deciding_an_appeal_needs_manage_messages(world: World) -> None:
    await timed_out_case(world)
    await appeal(world, world.alice)
    res = await world.bob.click(world.modlog.last_message, label="Accept")
    assert private_answer(res).content == "You need the Manage Messages permission to do that."
    [filed] = appeals(world)
    assert filed.status is AppealStatus.OPEN and world.alice.member.timed_out_until is not None


async def test_automods_actions_are_told_and_appealable_only_where_a_ladder_is_set(world: World) -> None:
    await world.admin.slash(world.general, "automod set", label="toxic", threshold=0.6, delete=True,
                            timeout_minutes=10)
    await world.bob.send(world.general, TOXIC)
    assert world.bob.member.timed_out_until is not None and dms(world, world.bob) == []  # off by default
    await set_ladder(world, "warn")
    sent = await world.alice.send(world.general, TOXIC)
    assert sent.id not in [m.id for m in world.general.history()]
    flag = world.flags()[-1]
    assert flag.action_taken == "deleted by automod, timed out 10 min by automod"
    [told] = dms(world, world.alice)
    assert told.embeds[0].description == "Deleted by automod; timed out 10 min by automod."
    await appeal(world, world.alice)
    res = await world.mod.click(world.modlog.last_message, label="Accept")
    assert private_answer(res).content == "Appeal #1 accepted. Automod's timeout lifted."
    [flag] = [f for f in world.flags() if f.id == flag.id]
    assert flag.status is FlagStatus.DISMISSED and world.alice.member.timed_out_until is None
    with world.env.bot.db.sessions() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.flag_id == flag.id))]
    assert actions[2:] == ["automod_dm", "appeal_filed", "appeal_accepted", "dismissed", "automod_timeout_undone",
                           "appeal_dm"]
    assert world.bob.member.timed_out_until is not None  # bob never appealed


async def test_modlog_set_reposts_open_appeals_in_the_new_channel(world: World) -> None:
    """A mod-log moved (its channel deleted) still shows every appeal waiting for a moderator; decided ones
    stay where they were."""
    flag = await timed_out_case(world)
    await appeal(world, world.alice)
    [filed] = appeals(world)
    await world.env.bot.get_channel(world.modlog.id).delete()
    fresh = world.g.create_text_channel("mod-log-2")
    await world.env.settle()
    res = await world.admin.slash(world.general, "modlog set", channel=fresh)
    assert "Posting the 1 open appeals that are not there yet." in res.response.content
    await world.env.settle()
    [filed] = appeals(world)
    [post] = [m for m in fresh.history() if m.embeds and m.embeds[0].title.startswith("Appeal")]
    assert post.embeds[0].title == f"Appeal #{filed.id} of flag #{flag.id}"
    assert filed.modlog_channel_id == fresh.id and filed.modlog_message_id == post.id
    await world.mod.click(post, label="Accept")
    assert world.alice.member.timed_out_until is None


async def test_forms_opened_before_a_restart_are_still_sent_after_it(world: World,
                                                                     bot_options: dict[str, object]) -> None:
    """The member's appeal form and a moderator's rejection form, both open while the bot restarts."""
    flag = await timed_out_case(world)
    shown = await world.alice.user.click(dms(world, world.alice)[-1], label="Appeal")
    old = world.env.bot
    new = create_bot(**bot_options)
    try:
        await world.env.restart_bot(new)
        await old.close()
        res = await world.alice.user.submit_modal(shown, {"appeal_text": WHY})
        assert "sent to the moderators" in private_answer(res).content
        [filed] = appeals(world)
        assert filed.flag_id == flag.id and filed.text == WHY and filed.status is AppealStatus.OPEN
        post = world.modlog.last_message
        assert post.embeds[0].title == f"Appeal #{filed.id} of flag #{flag.id}"
        form = await world.mod.click(post, label="Reject")
        await world.env.restart_bot(again := create_bot(**bot_options))
        await new.close()
        new = again
        await world.mod.submit_modal(form, {"reject_note": "Quoting it still posts it."})
        [filed] = appeals(world)
        assert filed.status is AppealStatus.REJECTED and filed.note == "Quoting it still posts it."
    finally:
        await new.close()


async def test_an_empty_appeal_sent_by_hand_is_refused(world: World) -> None:
    await timed_out_case(world)
    res = await appeal(world, world.alice, text="   ")
    assert private_answer(res).content == "An appeal needs a few words on why the moderators should reconsider."
    assert appeals(world) == []
