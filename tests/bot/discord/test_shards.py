"""Shards in several processes on one PostgreSQL.

The bot under SimCord (process A) runs as an `AutoShardedBot` with both of its two shards; a second bot
(process B: its own database engine, scoring worker, caches and change listener, the same PostgreSQL) is
started beside it without a gateway, as a shard process whose guild traffic we feed it directly. What A
changes through Discord, B must act on without a restart; only one retrain may run across both.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import discord
import pytest
from sqlalchemy import create_engine, select, text

from bot import create_bot
from bot.cli import main
from bot.discord.app import ShardedToxmodBot, ToxmodBot
from bot.discord.errors import UserInputError
from bot.moderation.pipeline import Incoming
from bot.scoring.registry import set_current
from bot.settings import PROJECT_ROOT
from bot.storage.locks import try_lock
from bot.storage.messages import MessageRef
from bot.storage.tables import AuditEntry
from tests.bot.discord.test_bot import CLEAN, TOXIC, handled_errors
from tests.support.world import World


@pytest.fixture
def bot_options(models_dir: Path, tmp_path: Path, postgres_url: str) -> dict[str, object]:
    return {"database_url": postgres_url, "models_dir": models_dir, "model_dir": None, "dev_guild_id": None,
            "score_max_length": 32, "tuning_cache": tmp_path / "engines.json", "shard_count": 2, "shards": "0,1"}


@pytest.fixture
async def other_process(bot_options: dict[str, object], tmp_path: Path) -> AsyncIterator[ToxmodBot]:
    """Process B: a second bot on the same database, started as `toxmod run` starts one, minus the gateway."""
    bot = create_bot(**{**bot_options, "shards": "1", "tuning_cache": tmp_path / "engines-b.json"})
    await bot.setup_hook()
    assert bot.changes is not None
    await asyncio.to_thread(bot.changes.connected.wait, 30)
    yield bot
    await bot.close()


async def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait (in real time: the notice crosses a real connection) until `check()` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the other process never caught up"
        await asyncio.to_thread(time.sleep, 0.05)


def audit_actions(world: World) -> list[str]:
    with world.env.bot.db.sessions() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def serve_from(models: Path, *bots: ToxmodBot) -> None:
    """Point the bots at a models/ folder this test may change, serving what its `current` names."""
    for bot in bots:
        bot.settings = replace(bot.settings, models_dir=models)
        await bot.moderation.reload_model(bot.settings)
        assert bot.scorer.model.version == "tiny-v1"


async def flagged_by(bot: ToxmodBot, guild_id: int, text: str) -> bool:
    [decision] = await bot.moderation.decide([Incoming(MessageRef(guild_id=guild_id), text)])
    return decision.flagged


async def test_a_sharded_process_scores_and_posts_for_guilds_on_each_of_its_shards(world: World) -> None:
    env = world.env
    assert isinstance(env.bot, ShardedToxmodBot) and env.bot.shard_ids == [0, 1]
    for shard in (0, 1):
        guild = env.create_guild(f"Shard {shard}", shard_id=shard)
        assert (guild.id >> 22) % 2 == shard  # Discord's rule for which shard carries a guild
        general, modlog = guild.create_text_channel("general"), guild.create_text_channel("mod-log")
        admins = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
        admin = guild.add_member(env.create_user(f"admin-{shard}"), roles=[admins])
        member = guild.add_member(env.create_user(f"member-{shard}"))
        await env.settle()
        await admin.slash(general, "modlog set", channel=modlog)
        await member.send(general, TOXIC)
        assert modlog.last_message is not None and modlog.last_message.embeds, f"nothing posted for shard {shard}"


async def test_a_threshold_set_through_one_process_changes_what_the_other_flags(
        world: World, other_process: ToxmodBot) -> None:
    text = CLEAN
    assert not await flagged_by(other_process, world.g.id, text)  # B has the guild's settings cached now
    res = await world.admin.slash(world.general, "thresholds set", label="toxic", value=0.01)
    assert "threshold is now 0.01" in res.response.content
    await eventually(lambda: world.g.id not in other_process.moderation._configs)
    assert await flagged_by(other_process, world.g.id, text)
    await world.admin.slash(world.general, "thresholds reset")
    await eventually(lambda: world.g.id not in other_process.moderation._configs)
    assert not await flagged_by(other_process, world.g.id, text)


async def test_a_change_missed_while_disconnected_is_picked_up_on_reconnecting(
        world: World, other_process: ToxmodBot, postgres_url: str) -> None:
    assert not await flagged_by(other_process, world.g.id, CLEAN)  # cached in B
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:  # a change whose notice B never hears (as if sent while it was cut off)
            conn.execute(text("INSERT INTO guild_settings (guild_id, thresholds, automod, updated_at) "
                              "VALUES (:g, :t, '{}', now()) ON CONFLICT (guild_id) DO UPDATE SET thresholds = :t"),
                         {"g": world.g.id, "t": '{"toxic": 0.01}'})
        assert not await flagged_by(other_process, world.g.id, CLEAN)  # stale, as it should be until told
        assert other_process.changes is not None
        other_process.changes.connected.clear()
        with engine.begin() as conn:  # the server drops every listening connection (a restart, a network cut)
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"))
    finally:
        engine.dispose()
    await asyncio.to_thread(other_process.changes.connected.wait, 30)
    await eventually(lambda: world.g.id not in other_process.moderation._configs)
    assert await flagged_by(other_process, world.g.id, CLEAN)


async def test_a_model_switched_through_one_process_is_served_by_the_other(
        world: World, other_process: ToxmodBot, own_models: Path) -> None:
    await serve_from(own_models, world.env.bot, other_process)
    set_current(own_models, "tiny-v2")
    res = await world.admin.slash(world.general, "model reload")
    assert res.response.content == "Model reloaded: tiny-v1 → tiny-v2."
    await eventually(lambda: other_process.scorer.model.version == "tiny-v2")
    [decision] = await other_process.moderation.decide([Incoming(MessageRef(guild_id=world.g.id), TOXIC)])
    assert decision.model_version == "tiny-v2"


async def test_the_cli_promote_switches_every_running_process(
        world: World, other_process: ToxmodBot, own_models: Path, postgres_url: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bot = world.env.bot
    await serve_from(own_models, bot, other_process)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("MODELS_DIR", str(own_models))
    assert await asyncio.to_thread(main, ["model", "promote", "tiny-v2", "--force"]) == 0
    assert "every bot process on this database switches to it now" in capsys.readouterr().out
    await eventually(lambda: bot.scorer.model.version == other_process.scorer.model.version == "tiny-v2")
    await world.alice.send(world.general, TOXIC)
    assert world.scored()[-1].model_version == "tiny-v2"


async def test_a_flag_posted_by_one_process_is_reviewed_through_another(
        world: World, bot_options: dict[str, object], tmp_path: Path) -> None:
    await world.alice.send(world.general, TOXIC)
    assert len(world.flags()) == 1
    post = world.modlog.last_message
    other = create_bot(**{**bot_options, "tuning_cache": tmp_path / "engines-c.json"})
    try:
        await world.env.restart_bot(other)  # the click reaches another process; the first one still runs
        res = await world.mod.click(post, label="Confirm")
        assert res.acknowledged and world.flags()[0].status.value == "confirmed"
        assert audit_actions(world).count("confirmed") == 1
        embed = world.modlog.last_message.embeds[0]  # the post shows the verdict, its buttons disabled
        assert "confirmed" in str(embed.to_dict()).lower()
    finally:
        await other.close()


async def test_a_retrain_running_in_another_process_refuses_a_second_one(
        world: World, other_process: ToxmodBot) -> None:
    held = await asyncio.to_thread(try_lock, other_process.db.engine, "retrain")  # B is retraining
    assert held is not None
    try:
        res = await world.admin.slash(world.general, "model retrain")
        assert "A retrain is already running" in res.response.content
        handled_errors(world.env, UserInputError)
    finally:
        held.release()
    res = await world.admin.slash(world.general, "model retrain")  # free again: A may start one
    assert "No moderator verdicts" in res.response.content
    handled_errors(world.env, UserInputError)


def test_simultaneous_retrain_locks_are_granted_once_and_freed_when_their_process_dies(postgres_url: str) -> None:
    engines = [create_engine(postgres_url) for _ in range(4)]  # four processes' connections
    try:
        with ThreadPoolExecutor(4) as pool:
            locks = list(pool.map(lambda e: try_lock(e, "retrain"), engines))
        assert sum(lock is not None for lock in locks) == 1
        for lock in locks:
            if lock is not None:
                lock.release()
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sys, time; from sqlalchemy import create_engine; "
             "from bot.storage.locks import try_lock; "
             f"lock = try_lock(create_engine({postgres_url!r}), 'retrain'); print(lock is not None, flush=True); "
             "time.sleep(60)"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "True"
            assert try_lock(engines[0], "retrain") is None
        finally:
            holder.kill()
            holder.wait()
        deadline = time.monotonic() + 10
        lock = None
        while lock is None and time.monotonic() < deadline:  # the server notices the dead connection
            lock = try_lock(engines[0], "retrain")
            time.sleep(0.1)
        assert lock is not None
        lock.release()
    finally:
        for engine in engines:
            engine.dispose()

