"""The Discord bot end to end under SimCord: real discord.py dispatch against an in-memory Discord."""

from __future__ import annotations

import pytest
import simcord
from sqlalchemy import select

from bot import create_bot
from bot.discord.errors import NotFoundError, UserInputError
from bot.storage.tables import AuditEntry, FlagOrigin, FlagStatus
from tests.support.world import World

TOXIC = "you are a stupid idiot"
CLEAN = "hello friend see you at the raid tonight"


def handled_errors(env: simcord.Env, kind: type[Exception]) -> list[BaseException]:
    """The errors the bot's handler answered the user about; any other kind fails the test."""
    errors = env.errors
    assert errors and all(isinstance(getattr(e, "original", e), kind) for e in errors), errors
    return errors




async def test_toxic_message_is_flagged_and_posted_with_four_buttons(world: World) -> None:
    sent = await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    assert (flag.guild_id, flag.channel_id, flag.message_id, flag.author_id) == (
        world.g.id, world.general.id, sent.id, world.alice.id)
    assert flag.text == TOXIC and flag.status is FlagStatus.PENDING and "toxic" in flag.labels
    post = world.modlog.last_message
    assert flag.modlog_message_id == post.id
    embed = post.embeds[0]
    assert embed.title == f"Flag #{flag.id}"
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Author"] == world.alice.mention and fields["Channel"] == f"<#{world.general.id}>"
    assert str(sent.id) in fields["Message"] and "toxic" in fields["Top labels"]
    assert "||" in embed.description and "idiot" in embed.description
    assert "tiny-v1" in embed.footer.text
    buttons = [c.label for row in post.components for c in row.children]
    assert buttons == ["Confirm", "Dismiss", "Delete message", "Timeout author"]


async def test_clean_message_is_logged_without_text_and_not_posted(world: World) -> None:
    await world.alice.send(world.general, CLEAN)
    assert world.flags() == []
    assert world.modlog.last_message is None
    [row] = world.scored()
    assert row.author_id == world.alice.id and not row.flagged and row.model_version == "tiny-v1"


async def test_empty_attachment_and_long_messages(world: World) -> None:
    await world.alice.send(world.general, "", attachments=[("cat.png", b"\x89PNG")])
    assert world.scored() == []
    insults = " ".join([TOXIC] * 3)  # the tiny test model needs most of its last 32-token window to be insult
    long = ("hello friend thanks for the game " * 60)[: 1990 - len(insults)] + " " + insults  # Discord caps at 2,000
    await world.alice.send(world.general, long)
    [flag] = world.flags()
    assert flag.text == long
    description = world.modlog.last_message.embeds[0].description
    assert len(description) < 4096 and description.startswith("||") and description.endswith("||")


async def test_edited_message_is_rescored(world: World) -> None:
    msg = await world.alice.send(world.general, CLEAN)
    assert world.flags() == []
    await world.alice.edit(msg, TOXIC)
    [flag] = world.flags()
    assert flag.message_id == msg.id and flag.text == TOXIC
    assert [row.edited for row in world.scored()] == [False, True]


async def test_bot_and_exempt_messages_are_ignored(world: World) -> None:
    other_bot = world.g.add_member(world.env.create_user("otherbot", bot=True))
    await world.env.settle()
    await other_bot.send(world.general, TOXIC)
    offtopic = world.g.create_text_channel("offtopic")
    res = await world.admin.slash(world.general, "exempt add", channel=offtopic)
    assert "now exempt" in res.response.content
    trusted = world.g.create_role("Trusted")
    await world.env.settle()
    res = await world.admin.slash(world.general, "exempt add", role=trusted)
    trusted_member = world.g.add_member(world.env.create_user("dave"), roles=[trusted])
    await world.env.settle()
    await world.alice.send(offtopic, TOXIC)
    await trusted_member.send(world.general, TOXIC)
    assert world.scored() == [] and world.flags() == []
    res = await world.admin.slash(world.general, "exempt list")
    assert f"<#{offtopic.id}>" in res.response.content and f"<@&{trusted.id}>" in res.response.content
    await world.admin.slash(world.general, "exempt remove", channel=offtopic)
    await world.alice.send(offtopic, TOXIC)
    assert len(world.flags()) == 1


async def test_confirm_and_dismiss_by_button_update_row_embed_and_audit(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    await world.bob.send(world.general, "i will kill you")
    first, second = world.flags()
    post_first, post_second = world.modlog.history()
    res = await world.mod.click(post_first, custom_id=f"toxmod:flag:confirm:{first.id}")
    embed = res.response.message.embeds[0]
    assert f"Confirmed by {world.mod.mention}" in {f.name: f.value for f in embed.fields}["Status"]
    buttons = {c.label: c.disabled for row in res.response.message.components for c in row.children}
    assert buttons["Confirm"] and buttons["Dismiss"] and not buttons["Delete message"]
    await world.mod.click(post_second, custom_id=f"toxmod:flag:dismiss:{second.id}")
    first, second = world.flags()
    assert first.status is FlagStatus.CONFIRMED and first.reviewer_id == world.mod.id
    assert first.verdict_labels and "toxic" in first.verdict_labels
    assert second.status is FlagStatus.DISMISSED and second.verdict_labels == []
    with world.env.bot.db.sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.flag_id.isnot(None)))
        audit = [(a.action, a.actor_id, a.flag_id) for a in entries]
    assert audit == [("confirmed", world.mod.id, first.id), ("dismissed", world.mod.id, second.id)]
    # Delete stays available after a verdict, and is recorded beside it
    await world.mod.click(world.modlog.history()[0], label="Delete message")
    assert world.flags()[0].action_taken == "message deleted"


async def test_confirm_and_dismiss_by_slash_command_update_the_modlog_post(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    res = await world.mod.slash(world.general, "flags confirm", id=flag.id, note="repeat offender")
    assert res.ephemeral and f"Flag #{flag.id} confirmed" in res.response.content
    status = {f.name: f.value for f in world.modlog.last_message.embeds[0].fields}["Status"]
    assert f"Confirmed by {world.mod.mention}" in status and "repeat offender" in status
    [flag] = world.flags()
    assert flag.status is FlagStatus.CONFIRMED and flag.note == "repeat offender"
    res = await world.mod.slash(world.general, "flags dismiss", id=flag.id)
    assert world.flags()[0].status is FlagStatus.DISMISSED
    res = await world.mod.slash(world.general, "flags show", id=flag.id)
    assert res.response.embeds[0].title == f"Flag #{flag.id}"


async def test_flags_list_member_and_stats(world: World) -> None:
    for i in range(12):
        await world.alice.send(world.general, f"{TOXIC} {i}")
    await world.bob.send(world.general, CLEAN)
    res = await world.mod.slash(world.general, "flags list")
    assert res.ephemeral and res.response.embeds[0].title == "Flags (12)"
    assert res.response.embeds[0].footer.text == "page 1 of 2"
    turned = await world.mod.click(res.response, label="Next")
    assert turned.response.message.embeds[0].footer.text == "page 2 of 2"
    res = await world.mod.slash(world.general, "flags list", member=world.bob)
    assert res.response.embeds[0].title == "Flags (0)"
    res = await world.mod.slash(world.general, "flags member", member=world.alice)
    fields = {f.name: f.value for f in res.response.embeds[0].fields}
    assert fields["Messages scored"] == "12" and fields["Flags"].startswith("12 ")
    res = await world.mod.slash(world.general, "stats", days=7)
    fields = {f.name: f.value for f in res.response.embeds[0].fields}
    assert fields["Messages scored"] == "13" and fields["Flags"] == "12"


async def test_members_without_manage_messages_cannot_see_or_use_moderation(world: World) -> None:
    visible = world.alice.available_commands(world.general)
    assert not any(c.split()[0] in ("flags", "scan", "stats", "modlog", "thresholds", "model") for c in visible)
    assert "flags list" in world.mod.available_commands(world.general)
    assert "thresholds set" not in world.mod.available_commands(world.general)
    with pytest.raises(simcord.SetupError, match="not visible"):
        await world.alice.slash(world.general, "flags list")


async def test_forged_button_click_is_refused(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    res = await world.bob.click(world.modlog.last_message, custom_id=f"toxmod:flag:confirm:{flag.id}")
    assert res.ephemeral and "Manage Messages" in res.response.content
    res = await world.bob.click(world.modlog.last_message, custom_id=f"toxmod:flag:delete:{flag.id}")
    assert "Manage Messages" in res.response.content
    [flag] = world.flags()
    assert flag.status is FlagStatus.PENDING and flag.action_taken is None


async def test_moderator_of_another_guild_gets_not_found(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    for command in ("flags show", "flags confirm", "flags dismiss"):
        res = await world.other_mod.slash(world.other_general, command, id=flag.id)
        assert res.ephemeral and res.response.content == f"No flag #{flag.id} in this server."
    res = await world.other_mod.slash(world.other_general, "flags show", id=999999)
    assert res.response.content == "No flag #999999 in this server."
    res = await world.other_mod.slash(world.other_general, "flags list")
    assert res.response.embeds[0].title == "Flags (0)"
    assert world.flags()[0].status is FlagStatus.PENDING
    assert len(handled_errors(world.env, NotFoundError)) == 4


async def test_threshold_overrides_change_what_gets_flagged(world: World) -> None:
    res = await world.mod.slash(world.general, "scan", text=TOXIC)
    assert res.response.embeds[0].title == "Would be flagged"
    res = await world.admin.slash(world.general, "thresholds set", label="toxic", value=1.0)
    await world.admin.slash(world.general, "thresholds set", label="insult", value=1.0)
    await world.admin.slash(world.general, "thresholds set", label="threat", value=1.0)
    assert "now 1.00" in res.response.content
    await world.alice.send(world.general, TOXIC)
    assert world.flags() == []
    res = await world.admin.slash(world.general, "thresholds show")
    assert "toxic" in res.response.embeds[0].description and "1.00" in res.response.embeds[0].description
    await world.admin.slash(world.general, "thresholds reset")
    await world.alice.send(world.general, TOXIC)
    assert len(world.flags()) == 1


async def test_modlog_shows_the_labels_most_above_this_servers_thresholds(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    [first] = world.flags()
    shown = [label for label, _ in first.top_labels]
    assert shown[0] in first.labels  # the label that passed its threshold comes first
    # a label that was not shown first becomes the only one with a reachable threshold
    chosen = max((label for label in first.scores if label != shown[0]), key=first.scores.get)
    assert first.scores[chosen] > 0.01
    for label in first.scores:
        await world.admin.slash(world.general, "thresholds set", label=label, value=0.01 if label == chosen else 1.0)
    await world.alice.send(world.general, TOXIC)
    second = world.flags()[-1]
    assert second.labels == [chosen] and second.top_labels[0][0] == chosen
    fields = {f.name: f.value for f in world.modlog.last_message.embeds[0].fields}
    assert fields["Top labels"].splitlines()[0].startswith(chosen)


async def test_failed_modlog_post_keeps_the_flag_and_is_reported(world: World) -> None:
    world.env.inject_error("POST", f"/channels/{world.modlog.id}/messages", status=403, code=50013,
                           message="Missing Permissions")
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    assert flag.modlog_message_id is None and "permission" in flag.modlog_error
    assert world.modlog.history() == []
    res = await world.admin.slash(world.general, "model info")
    assert "permission" in {f.name: f.value for f in res.response.embeds[0].fields}["Mod-log"]
    # setting the mod-log again posts what was kept
    await world.admin.slash(world.general, "modlog set", channel=world.modlog)
    assert world.flags()[0].modlog_message_id == world.modlog.last_message.id


async def test_buttons_keep_working_after_a_restart(world: World, bot_options: dict[str, object]) -> None:
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    post = world.modlog.last_message
    old = world.env.bot
    new = create_bot(**bot_options)
    try:
        await world.env.restart_bot(new)
        await old.close()
        res = await world.mod.click(post, custom_id=f"toxmod:flag:dismiss:{flag.id}")
        assert res.acknowledged
        assert world.flags()[0].status is FlagStatus.DISMISSED
        res = await world.mod.click(post, custom_id=f"toxmod:flag:timeout:{flag.id}")
        [prompt] = res.followups  # the click is acknowledged first, the duration choice follows privately
        assert prompt.ephemeral
        await world.mod.select(prompt, ["60"], custom_id=f"toxmod:timeout:{flag.id}")
        assert world.alice.member.timed_out_until is not None
        assert "timed out 60 min" in world.flags()[0].action_taken
    finally:
        await new.close()


async def test_report_to_moderators_opens_a_flag_for_a_clean_message(world: World) -> None:
    msg = await world.alice.send(world.general, CLEAN)
    assert world.flags() == []
    res = await world.bob.context_menu(world.general, "Report to moderators", msg)
    assert res.ephemeral and "moderators have been notified" in res.response.content
    [flag] = world.flags()
    assert flag.origin is FlagOrigin.REPORTED and flag.reporter_id == world.bob.id and flag.labels == []
    assert "reported" in world.modlog.last_message.embeds[0].title


async def test_automod_deletes_and_times_out_above_its_threshold(world: World) -> None:
    res = await world.admin.slash(world.general, "automod set", label="toxic", threshold=0.6, delete=True,
                                  timeout_minutes=10)
    assert "set" in res.response.content
    sent = await world.alice.send(world.general, TOXIC)
    assert sent.id not in [m.id for m in world.general.history()]
    assert world.alice.member.timed_out_until is not None
    [flag] = world.flags()
    assert "deleted by automod" in flag.action_taken and "timed out 10 min by automod" in flag.action_taken
    res = await world.admin.slash(world.general, "automod show")
    assert "toxic" in res.response.content and "timeout 10 min" in res.response.content


async def test_confirm_offers_a_label_correction_that_is_stored(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    res = await world.mod.click(world.modlog.last_message, custom_id=f"toxmod:flag:confirm:{flag.id}")
    [prompt] = res.followups
    assert prompt.ephemeral and "Correct the labels" in prompt.content
    await world.mod.select(prompt, ["toxic", "threat"], custom_id=f"toxmod:verdict:{flag.id}")
    [flag] = world.flags()
    assert flag.status is FlagStatus.CONFIRMED and flag.verdict_labels == ["toxic", "threat"]
    status = {f.name: f.value for f in world.modlog.last_message.embeds[0].fields}["Status"]
    assert "as toxic, threat" in status


async def test_privacy_forget_erases_one_members_texts_only(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    await world.bob.send(world.general, TOXIC)
    await world.mod.click(world.modlog.history()[0], label="Dismiss")
    res = await world.admin.slash(world.general, "privacy forget", member=world.alice)
    assert "Erased 1 stored message texts" in res.response.content
    alice_flag, bob_flag = world.flags()
    assert alice_flag.text is None and alice_flag.text_erased_at is not None
    assert alice_flag.status is FlagStatus.DISMISSED and alice_flag.scores == bob_flag.scores
    assert bob_flag.text == TOXIC
    assert "privacy forget" not in world.mod.available_commands(world.general)


async def test_thresholds_suggested_from_verdicts_apply_only_on_request(world: World) -> None:
    for i in range(12):  # the moderators dismiss every insult flag: this server tolerates banter
        await world.alice.send(world.general, f"{TOXIC} {i}")
        await world.mod.click(world.modlog.last_message, label="Dismiss" if i % 4 else "Confirm")
    res = await world.admin.slash(world.general, "thresholds show")
    shown = await world.admin.click(res.response, label="Suggest from verdicts")
    embed = shown.response.message.embeds[0]
    assert embed.footer.text.startswith("from 12 verdicts") and "toxic" in embed.description
    before = (await world.env.bot.moderation.guild_config(world.g.id)).thresholds
    assert before == {}
    applied = await world.admin.click(shown.response, label="Apply suggestions")
    assert applied.response.message.content.startswith("Applied: ")
    after = (await world.env.bot.moderation.guild_config(world.g.id)).thresholds
    assert after and all(0 < v <= 1 for v in after.values())


async def test_messages_in_a_language_the_model_cannot_read_follow_the_servers_rule(world: World) -> None:
    spanish = "eres un pendejo de mierda y nadie te quiere aqui"
    res = await world.admin.slash(world.general, "languages show")
    assert "Moderated here: en (the default)" in res.response.content and "ignored" in res.response.content
    await world.alice.send(world.general, spanish)
    assert world.flags() == [] and world.scored() == []  # ignored: never scored as English, nothing stored
    res = await world.admin.slash(world.general, "languages set", codes="en,es", others="review")
    assert "The model does not read es" in res.response.content
    await world.alice.send(world.general, spanish)
    [flag] = world.flags()
    assert flag.language == "es" and flag.labels == [] and flag.scores == {}
    embed = world.modlog.last_message.embeds[0]
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Not scored"] == "language not supported (es)" and fields["Language"] == "es"
    await world.alice.send(world.general, TOXIC)  # English is still read and scored
    assert [f.language for f in world.flags()] == ["es", "en"]
    res = await world.mod.slash(world.general, "scan", text=spanish)
    assert "Not scored" in res.response.content and "`es`" in res.response.content
    res = await world.admin.slash(world.general, "languages set", codes="english")
    assert res.ephemeral and "not a two-letter language code" in res.response.content
    handled_errors(world.env, UserInputError)
    # another server keeps the default
    await world.other_member.send(world.other_general, spanish)
    assert len(world.flags()) == 2
