"""Fixtures for the Discord tests: the bot under SimCord, the world it serves, and models it may change."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import discord
import pytest
import simcord

from bot import create_bot
from bot.discord.app import ToxmodBot
from bot.scoring.registry import set_current
from tests.support.world import World

# How long SimCord waits for the bot to finish what a step started. Its 5 s default is ample on an idle
# machine; on a CI runner busy with other work the bot's thread pools (scoring, the database writer) can
# take longer, and the test would fail on timing rather than on behaviour. A hang still fails, later.
SETTLE_TIMEOUT_S = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every SimCord test the generous settle timeout unless it sets its own."""
    for item in items:
        if item.get_closest_marker("simcord") is None:
            item.add_marker(pytest.mark.simcord(settle_timeout=SETTLE_TIMEOUT_S))


@pytest.fixture
def bot_options(models_dir: Path, tmp_path: Path, db_url: str) -> dict[str, object]:
    return {"database_url": db_url, "models_dir": models_dir, "model_dir": None,
            "dev_guild_id": None, "score_max_length": 32, "tuning_cache": tmp_path / "engines.json"}


@pytest.fixture
async def simcord_bot(bot_options: dict[str, object]) -> AsyncIterator[ToxmodBot]:
    bot = create_bot(**bot_options)
    yield bot
    await bot.close()  # SimCord never closes the bot: this drains the worker and the database writer


@pytest.fixture
async def world(simcord_env: simcord.Env) -> World:
    """Guild Main (#general, #mod-log set as the mod-log, Mods and Admins roles; its admin owns the bot) and
    guild Other beside it."""
    env = simcord_env
    await env.bot.tree.sync()
    g = env.create_guild("Main")
    mods = g.create_role("Mods", permissions=discord.Permissions(manage_messages=True, moderate_members=True))
    admins = g.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    general = g.create_text_channel("general")
    modlog = g.create_text_channel("mod-log")
    alice = g.add_member(env.create_user("alice"))
    bob = g.add_member(env.create_user("bob"))
    mod = g.add_member(env.create_user("mod"), roles=[mods])
    admin = g.add_member(env.create_user("admin"), roles=[admins])
    other = env.create_guild("Other")
    other_mods = other.create_role("Mods", permissions=discord.Permissions(manage_messages=True))
    other_general = other.create_text_channel("general")
    other_mod = other.add_member(env.create_user("other-mod"), roles=[other_mods])
    other_member = other.add_member(env.create_user("carol"))
    await env.settle()
    # the admin of Main also owns the bot (OWNER_IDS): the process-wide model controls are theirs
    env.bot.settings = replace(env.bot.settings, owner_ids=str(admin.id))
    res = await admin.slash(general, "modlog set", channel=modlog)
    assert res.ephemeral and "will be posted" in res.response.content
    return World(env=env, g=g, general=general, modlog=modlog, alice=alice, bob=bob, mod=mod, admin=admin,
                 mods=mods, other=other, other_general=other_general, other_mod=other_mod, other_member=other_member)


@pytest.fixture
def own_models(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A models/ directory this test may change (promote, reload) without touching the shared one."""
    root = tmp_path / "models"
    shutil.copytree(tiny_model_dir, root / "tiny-v1")
    shutil.copytree(tiny_model_dir, root / "tiny-v2")
    meta = json.loads((root / "tiny-v2" / "metadata.json").read_text())
    (root / "tiny-v2" / "metadata.json").write_text(json.dumps({**meta, "version": "tiny-v2"}))
    set_current(root, "tiny-v1")
    return root
