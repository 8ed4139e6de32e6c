"""`/model` from Discord: what serves, switching models without a restart, and retraining from this
server's verdicts (with the corpora `toxmod data fetch` put in place) up to promoting the candidate."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli import main
from bot.discord.errors import UserInputError
from tests.bot.discord.test_bot import CLEAN, TOXIC, handled_errors
from tests.support.mirror import Mirror
from tests.support.paths import SOURCE_FIXTURES
from tests.support.world import World


async def test_model_info_and_reload(world: World, models_dir: Path) -> None:
    res = await world.admin.slash(world.general, "model info")
    assert res.response.embeds[0].title == "Model tiny-v1"
    res = await world.admin.slash(world.general, "model reload")
    assert "tiny-v1 → tiny-v1" in res.response.content
    await world.alice.send(world.general, TOXIC)
    assert world.flags()[0].model_version == "tiny-v1"


async def test_model_reload_switches_the_version_of_later_rows(world: World, own_models: Path) -> None:
    from bot.scoring.registry import set_current

    world.env.bot.settings = replace(world.env.bot.settings, models_dir=own_models)
    await world.admin.slash(world.general, "model reload")
    await world.alice.send(world.general, CLEAN)
    set_current(own_models, "tiny-v2")
    res = await world.admin.slash(world.general, "model reload")
    assert res.response.content == "Model reloaded: tiny-v1 → tiny-v2."
    await world.alice.send(world.general, TOXIC)
    assert [row.model_version for row in world.scored()] == ["tiny-v1", "tiny-v2"]
    assert world.flags()[0].model_version == "tiny-v2"
    res = await world.admin.slash(world.general, "model info")
    assert res.response.embeds[0].title == "Model tiny-v2"


@pytest.mark.simcord(settle_timeout=240)
async def test_retrain_from_discord_reports_and_promotes(world: World, own_models: Path, tmp_path: Path) -> None:
    bot = world.env.bot
    bot.settings = replace(bot.settings, models_dir=own_models, data_dir=tmp_path / "no-corpora", retrain_samples=200)
    await bot.moderation.reload_model(bot.settings)
    res = await world.admin.slash(world.general, "model status")
    assert res.response.content == "No retrain has run since the bot started."
    res = await world.admin.slash(world.general, "model retrain")
    assert "No moderator verdicts" in res.response.content
    handled_errors(world.env, UserInputError)
    for i in range(6):
        await world.alice.send(world.general, f"{TOXIC} {i}")
        await world.mod.click(world.modlog.last_message, label="Confirm")
        msg = await world.bob.send(world.general, f"{CLEAN} {i}")
        await world.mod.context_menu(world.general, "Report to moderators", msg)
        await world.mod.click(world.modlog.last_message, label="Dismiss")
    res = await world.admin.slash(world.general, "model retrain")  # settles once the child process is done
    assert "Retrain started" in res.response.content and "from 12 verdicts" in res.response.content
    job = bot.get_cog("ModelAdmin").retrain_job
    assert not job.running and job.error is None, job.log_tail(20)
    report = world.modlog.last_message
    assert report.embeds[0].title == f"Retrain finished: {job.name}"
    res = await world.admin.slash(world.general, "model status")
    assert "finished" in res.response.content
    refused = await world.mod.click(report, label="Promote")
    assert "Only the bot's owner" in refused.response.content
    res = await world.admin.click(report, label="Promote")
    assert "Promoted by" in {f.name: f.value for f in res.response.message.embeds[0].fields}["Status"]
    assert (own_models / "current").read_text().strip() == job.name
    assert bot.scorer.model.version == job.name
    await world.alice.send(world.general, CLEAN)
    assert world.scored()[-1].model_version == job.name


def _fetched_corpora(mirror: Mirror, tmp_path: Path) -> Path:
    """A data directory made by `toxmod data fetch` from the mirror: Davidson's and OLID's files (the test
    fixtures laid out as their authors publish them), pinned by sha256 in a registry naming the mirror."""
    entries = []
    for name, folder, file in [("davidson", "davidson2017", "labeled_data.csv"),
                               ("olid", "olid", "olid-training-v1.0.tsv")]:
        body = (SOURCE_FIXTURES / folder / file).read_bytes()
        mirror.files[f"/{file}"] = body
        entries.append(f'[[corpus]]\nname = "{name}"\nfolder = "{folder}"\ntitle = "{name}"\nlicence = "MIT"\n'
                       f'homepage = "https://example.org"\ncitation = "{name}"\nsize = "a few rows"\n'
                       f'[[corpus.files]]\nurl = "{mirror.url}/{file}"\nsha256 = "{hashlib.sha256(body).hexdigest()}"\n'
                       f'dest = "{file}"\n')
    registry = tmp_path / "corpora.toml"
    registry.write_text("\n".join(entries))
    data = tmp_path / "data"
    assert main(["data", "fetch", "--registry", str(registry), "--dir", str(data), "-q"]) == 0
    return data


@pytest.mark.simcord(settle_timeout=240)
async def test_retrain_trains_on_the_corpora_data_fetch_put_in_place(world: World, own_models: Path, tmp_path: Path,
                                                                     mirror: Mirror) -> None:
    bot = world.env.bot
    data = _fetched_corpora(mirror, tmp_path)
    bot.settings = replace(bot.settings, models_dir=own_models, data_dir=data, retrain_samples=200)
    await bot.moderation.reload_model(bot.settings)
    for i in range(3):
        await world.alice.send(world.general, f"{TOXIC} {i}")
        await world.mod.click(world.modlog.last_message, label="Confirm")
    res = await world.admin.slash(world.general, "model retrain")  # settles once the child process is done
    assert "from 3 verdicts" in res.response.content
    job = bot.get_cog("ModelAdmin").retrain_job
    assert not job.running and job.error is None, job.log_tail(20)
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    read = {s["name"]: s for s in meta["sources"]}
    assert read["davidson"]["path"] == str(data / "davidson2017" / "labeled_data.csv")
    assert set(read) == {"davidson", "olid", "contrast", "feedback"}  # the rest are not there: skipped
    description = world.modlog.last_message.embeds[0].description
    assert "3 verdicts; no replay sample; corpora read whole: davidson " in description
    assert f"olid {read['olid']['rows']}, contrast {read['contrast']['rows']:,}" in description
