"""`/model retrain`: the same training as `toxmod train`, as a separate low-priority OS process.

Training in the bot's own process would fight live scoring for the GIL and the cores; a child process
with `nice` and a bounded thread count leaves the scoring worker its speed. One retrain at a time across
every process sharing the database (bot/storage/locks.py); the child writes `progress.json` in its run
directory, which `/model status` reads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord.app import bot_of
from bot.model.report import Comparison
from bot.moderation.feedback import FEEDBACK_CSV
from bot.storage.locks import JobLock

if TYPE_CHECKING:
    from bot.discord.model.cog import ModelAdmin

log = logging.getLogger(__name__)

NICENESS = 10


class RetrainBusy(RuntimeError):
    """A retrain is already running for this bot."""


@dataclass
class RetrainJob:
    name: str
    guild_id: int
    run_dir: Path
    model_dir: Path
    verdicts: int
    started: float = field(default_factory=time.monotonic)
    process: asyncio.subprocess.Process | None = None
    returncode: int | None = None
    error: str | None = None
    lock: JobLock | None = None  # the cross-process retrain lock, released when the child exits

    @property
    def running(self) -> bool:
        return self.returncode is None

    @property
    def feedback_csv(self) -> Path:
        """The verdicts' texts for the child: deleted once it exits, so no copy outlives their erasure."""
        return self.run_dir / FEEDBACK_CSV

    def progress(self) -> dict:
        try:
            return json.loads((self.run_dir / "progress.json").read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join((self.run_dir / "train.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def candidate_name(now: datetime | None = None) -> str:
    return "candidate-" + (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def train_command(job: RetrainJob, init_dir: Path, feedback_csv: Path, data_dir: Path | None, models_dir: Path,
                  samples: int, epochs: float, threads: int) -> list[str]:
    """The `toxmod train` invocation: current model + feedback (weighted up) + a replay of the corpora."""
    command = [sys.executable, "-m", "bot.cli", "train", "--name", job.name, "--version", job.name,
               "--init", str(init_dir), "--feedback", str(feedback_csv), "--models-dir", str(models_dir),
               "--run-dir", str(job.run_dir), "--samples-per-epoch", str(samples), "--epochs", str(epochs),
               "--threads", str(threads), "--source-weight", "feedback=4"]
    command += ["--data-dir", str(data_dir)] if data_dir is not None else ["--no-data"]
    return command


async def start_process(job: RetrainJob, command: list[str], threads: int) -> None:
    """Start the child in the run directory the caller prepared (it already holds the feedback export)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "TOKENIZERS_PARALLELISM": "false"}
    log_file = (job.run_dir / "train.log").open("wb")
    try:
        job.process = await asyncio.create_subprocess_exec(
            *command, stdout=log_file, stderr=asyncio.subprocess.STDOUT, env=env,
            preexec_fn=lambda: os.nice(NICENESS))
    except BaseException:
        job.feedback_csv.unlink(missing_ok=True)  # no child will read it
        raise
    finally:
        log_file.close()


async def wait(job: RetrainJob) -> None:
    """Wait for the child to exit, then delete its feedback export (it read the texts at its start)."""
    assert job.process is not None
    try:
        job.returncode = await job.process.wait()
    finally:
        job.feedback_csv.unlink(missing_ok=True)
    if job.returncode != 0:
        job.error = job.log_tail(3) or f"exit status {job.returncode}"


def report_embed(job: RetrainJob, comparison: Comparison | None, outcome: str | None = None) -> discord.Embed:
    """Candidate vs current on the same validation rows, as the mod-log shows it to admins."""
    if job.error:
        embed = discord.Embed(title=f"Retrain failed: {job.name}", colour=discord.Colour.red(),
                              description=f"```\n{job.error[-1500:]}\n```")
        return embed
    embed = discord.Embed(title=f"Retrain finished: {job.name}", colour=discord.Colour.blurple(),
                          description=f"Trained on {job.verdicts} verdicts of this server plus a replay sample of "
                                      f"the original corpora, in {(time.monotonic() - job.started) / 60:.1f} min.")
    if comparison:
        lines = [f"`{r.name}` {r.current:.4f} → {r.candidate:.4f} ({r.candidate - r.current:+.4f})"
                 for r in comparison.rows]
        embed.add_field(name=f"Candidate vs current ({comparison.current_version})",
                        value="\n".join(lines)[:1024] or "no shared figures", inline=False)
    embed.add_field(name="Status", value=outcome or "Waiting for an admin: Promote or Discard", inline=False)
    return embed


class CandidateButton(discord.ui.DynamicItem[discord.ui.Button],
                      template=r"toxmod:candidate:(?P<action>promote|discard):(?P<name>candidate-[0-9-]+)"):
    """Promote / Discard under a retrain report; admins only, checked on every click by the ModelAdmin cog."""

    def __init__(self, action: str, name: str, *, disabled: bool = False) -> None:
        style = discord.ButtonStyle.success if action == "promote" else discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=action.capitalize(), style=style, disabled=disabled,
                                           custom_id=f"toxmod:candidate:{action}:{name}"))
        self.action, self.name = action, name

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str]) -> CandidateButton:
        return cls(match["action"], match["name"])

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = bot_of(interaction).get_cog("ModelAdmin")
        if cog is None:
            raise RuntimeError("the ModelAdmin cog is not loaded")
        await cast("ModelAdmin", cog).handle_candidate(interaction, self.action, self.name)


def candidate_view(name: str, *, disabled: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CandidateButton("promote", name, disabled=disabled))
    view.add_item(CandidateButton("discard", name, disabled=disabled))
    return view
