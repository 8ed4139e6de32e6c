"""The bot when things go wrong around it: it was down, a post or the database failed, a member reports
the same message again and again, an admin of another server reaches for the model, an author edits."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import discord
import pytest

from bot import create_bot
from bot.discord.errors import NotOwner, UserInputError
from bot.storage.tables import FlagStatus
from tests.support.faults import fill_database, hold_lock, restore
from tests.support.world import World

TOXIC = "you are a stupid idiot"
CLEAN = "hello friend see you at the raid tonight"



def handled(world: World, *kinds: type[Exception]) -> None:
    """The errors so far were all refusals the bot answered the user about (and are acknowledged)."""
    errors = world.env.errors
    assert all(isinstance(getattr(e, "original", e), kinds) for e in errors), errors


def acknowledged_at_once(world: World) -> bool:
    """The last interaction was acknowledged with a deferral ("thinking", or a deferred update) before the bot
    made any other request: Discord's 3 s limit is met however long the answer then takes."""
    requests = world.env.http_requests
    callbacks = [i for i, r in enumerate(requests) if r.path.endswith("/callback")]
    last = callbacks[-1]
    return requests[last].json["type"] in (5, 6) and all(
        "/webhooks/" in r.path for r in requests[last + 1:] if r.method == "POST")



async def test_messages_sent_while_the_bot_was_down_are_scored_once(
        world: World, bot_options: dict[str, object]) -> None:
    first = await world.alice.send(world.general, CLEAN)
    old = world.env.bot
    await old.ws.close()  # the gateway drops everything from here on: the bot is down
    missed = await world.alice.send(world.general, TOXIC)
    assert [row.message_id for row in world.scored()] == [first.id]
    new = create_bot(**bot_options)
    try:
        await world.env.restart_bot(new)
        await old.close()
        await world.env.settle()
        assert [row.message_id for row in world.scored()] == [first.id, missed.id]
        [flag] = world.flags()
        assert flag.message_id == missed.id and world.modlog.last_message.embeds[0].title == f"Flag #{flag.id}"
        new.dispatch("resumed")  # a reconnect catches up again, and finds nothing new
        await world.env.settle()
        assert len(world.scored()) == 2 and len(world.flags()) == 1
    finally:
        await new.close()


async def test_a_message_gets_one_flag_however_often_it_is_reported(world: World) -> None:
    msg = await world.alice.send(world.general, CLEAN)
    first = await world.bob.context_menu(world.general, "Report to moderators", msg)
    assert "moderators have been notified" in first.response.content
    again = await world.bob.context_menu(world.general, "Report to moderators", msg)
    assert "already reported" in again.response.content
    handled(world, UserInputError)
    other = await world.mod.context_menu(world.general, "Report to moderators", msg)
    assert "added to flag" in other.response.content
    [flag] = world.flags()
    assert [r.reporter_id for r in flag.reports] == [world.bob.id, world.mod.id]
    assert len(world.modlog.history()) == 1
    assert "2 reports" in {f.name: f.value for f in world.modlog.last_message.embeds[0].fields}["Reported by"]


async def test_reports_per_member_are_limited_politely(world: World) -> None:
    limit = world.env.bot.settings.report_limit_per_hour
    messages = [await world.alice.send(world.general, f"{CLEAN} {i}") for i in range(limit + 1)]
    for msg in messages[:limit]:
        res = await world.bob.context_menu(world.general, "Report to moderators", msg)
        assert "notified" in res.response.content
    res = await world.bob.context_menu(world.general, "Report to moderators", messages[-1])
    assert f"{limit} reports in the last hour" in res.response.content and "thank you" in res.response.content
    handled(world, UserInputError)
    assert len(world.flags()) == limit
    res = await world.alice.context_menu(world.general, "Report to moderators", messages[-1])  # others still can
    assert "notified" in res.response.content


async def test_model_controls_belong_to_the_owner_and_info_is_per_server(world: World) -> None:
    other_admins = world.other.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    other_admin = world.other.add_member(world.env.create_user("other-admin"), roles=[other_admins])
    await world.env.settle()
    await world.alice.send(world.general, TOXIC)
    for command in ("model reload", "model status", "model retrain"):
        res = await other_admin.slash(world.other_general, command)
        assert "Only the bot's owner" in res.response.content, command
    handled(world, NotOwner)
    res = await other_admin.slash(world.other_general, "model info")
    embed = res.response.embeds[0]
    fields = {f.name: f.value for f in embed.fields}
    assert fields["This server, last 24 h"].startswith("0 scored") and "Worker (all servers)" not in fields
    res = await world.admin.slash(world.general, "model info")
    fields = {f.name: f.value for f in res.response.embeds[0].fields}
    assert fields["This server, last 24 h"].startswith("1 scored") and "Worker (all servers)" in fields
    res = await world.admin.slash(world.general, "model reload")
    assert res.response.content.startswith("Model reloaded")


async def test_a_failed_reload_shows_no_host_path(world: World, tmp_path: Path) -> None:
    world.env.bot.settings = replace(world.env.bot.settings, model_dir=tmp_path / "nowhere")
    res = await world.admin.slash(world.general, "model reload")
    assert "Reload failed, still using tiny-v1" in res.response.content
    assert str(tmp_path) not in res.response.content
    handled(world, UserInputError)


async def test_an_unchanged_edit_after_a_restart_opens_nothing(world: World, bot_options: dict[str, object]) -> None:
    msg = await world.alice.send(world.general, TOXIC)
    old = world.env.bot
    new = create_bot(**bot_options)
    try:
        await world.env.restart_bot(new)
        await old.close()
        await world.alice.edit(msg, TOXIC)  # e.g. a link preview unfurled: same text
        assert len(world.flags()) == 1 and len(world.modlog.history()) == 1
        assert len(world.scored()) == 1
    finally:
        await new.close()


async def test_edits_update_a_pending_flag_and_link_a_reviewed_one(world: World) -> None:
    msg = await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    worse = f"{TOXIC} and a moron"
    await world.alice.edit(msg, worse)
    [flag] = world.flags()
    assert flag.text == worse and len(world.modlog.history()) == 1
    assert "moron" in world.modlog.last_message.embeds[0].description
    await world.mod.click(world.modlog.last_message, custom_id=f"toxmod:flag:confirm:{flag.id}")
    await world.alice.edit(msg, f"{TOXIC} really")
    first, second = world.flags()
    assert second.previous_flag_id == first.id and second.status is FlagStatus.PENDING
    fields = {f.name: f.value for f in world.modlog.last_message.embeds[0].fields}
    assert f"#{first.id}" in fields["Edited after"] and "confirmed" in fields["Edited after"].lower()


async def test_failed_posts_are_retried_and_the_health_line_counts_them(world: World) -> None:
    world.env.inject_error("POST", f"/channels/{world.modlog.id}/messages", status=403, code=50013,
                           message="Missing Permissions", times=1)
    await world.alice.send(world.general, TOXIC)
    await world.bob.send(world.general, TOXIC)  # posted fine: must not hide the first one
    first, second = world.flags()
    assert first.modlog_message_id is None and second.modlog_message_id is not None
    res = await world.admin.slash(world.general, "model info")
    assert "1 flags not posted yet" in {f.name: f.value for f in res.response.embeds[0].fields}["Mod-log"]
    await world.env.advance_time(120)
    first, _ = world.flags()
    assert first.modlog_message_id is not None and len(world.modlog.history()) == 2
    res = await world.admin.slash(world.general, "model info")
    assert {f.name: f.value for f in res.response.embeds[0].fields}["Mod-log"] == "OK"


async def test_modlog_set_reposts_every_pending_flag_even_from_a_deleted_channel(world: World) -> None:
    for i in range(3):
        await world.alice.send(world.general, f"{TOXIC} {i}")
    await world.env.bot.get_channel(world.modlog.id).delete()
    for i in range(30):
        await world.bob.send(world.general, f"{TOXIC} again {i}")
    fresh = world.g.create_text_channel("mod-log-2")
    await world.env.settle()
    res = await world.admin.slash(world.general, "modlog set", channel=fresh)
    assert "Posting the 33 pending flags" in res.response.content
    assert len(fresh.history()) == 33
    assert all(f.modlog_channel_id == fresh.id for f in world.flags())


async def test_scan_acknowledges_before_scoring(world: World) -> None:
    res = await world.mod.slash(world.general, "scan", text=TOXIC)
    assert acknowledged_at_once(world) and res.response.embeds[0].title == "Would be flagged"


async def test_a_verdict_waits_for_a_locked_database(world: World, tmp_path: Path) -> None:
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    with hold_lock(tmp_path / "bot.db", seconds=3):
        res = await world.mod.slash(world.general, "flags confirm", id=flag.id)
        assert acknowledged_at_once(world)
    with hold_lock(tmp_path / "bot.db", seconds=3):
        click = await world.mod.click(world.modlog.last_message, custom_id=f"toxmod:flag:delete:{flag.id}")
        assert acknowledged_at_once(world)
    assert f"Flag #{flag.id} confirmed" in res.response.content
    assert click.acknowledged
    [flag] = world.flags()
    assert flag.status is FlagStatus.CONFIRMED and "message deleted" in flag.action_taken


async def test_a_full_database_still_shows_flags_and_saves_them_later(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    db = world.env.bot.db
    db.retry_initial = db.retry_max = 0.05
    fill_database(db)
    await world.alice.send(world.general, TOXIC)
    await world.bob.send(world.general, TOXIC)
    posts = world.modlog.history()
    assert len(posts) == 2 and all(p.embeds[0].title == "Flag not saved yet (database is full)" for p in posts)
    assert all(not p.components for p in posts)  # no verdict on a flag that does not exist yet
    res = await world.admin.slash(world.general, "model info")
    assert "database is full" in {f.name: f.value for f in res.response.embeds[0].fields}["Database"]
    assert world.flags() == []
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1 and problems[0].exc_info is None  # one line for the episode, no tracebacks
    restore(db)
    deadline = time.monotonic() + 10
    while (db.health is not None or len(world.flags()) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)  # the writer thread retries the spool meanwhile (it is not the event loop's to wait for)
    await world.env.settle()
    saved = world.flags()
    assert [f.author_id for f in saved] == [world.alice.id, world.bob.id]
    posts = world.modlog.history()
    assert len(posts) == 2 and {p.embeds[0].title for p in posts} == {f"Flag #{f.id}" for f in saved}
    assert all(p.components for p in posts) and [f.modlog_message_id for f in saved] == [p.id for p in posts]
    res = await world.admin.slash(world.general, "model info")
    assert "Database" not in {f.name for f in res.response.embeds[0].fields}
