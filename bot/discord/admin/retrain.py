"""`/model retrain`'s process: the same training as `toxmod train`, as a separate low-priority OS process.

Training in the bot's own process would fight live scoring for the GIL and the cores; a child process
with `nice` and a bounded thread count leaves the scoring worker its speed. One retrain at a time across
every process sharing the database (bot/storage/locks.py); the child writes `progress.json` in its run
directory, which `/model status` reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.moderation.feedback.export import FEEDBACK_CSV
from bot.storage.locks import JobLock

NICENESS = 10


@dataclass
class RetrainJob:
    """One retrain: the candidate it trains, where its run writes, and its child process once started."""

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
        """Whether the training process has not exited yet."""
        return self.returncode is None

    @property
    def feedback_csv(self) -> Path:
        """The verdicts' texts for the child: deleted once it exits, so no copy outlives their erasure."""
        return self.run_dir / FEEDBACK_CSV

    def progress(self) -> dict:
        """The run's latest progress.json (step, loss, ...), or {} before the first is written."""
        try:
            return json.loads((self.run_dir / "progress.json").read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def log_tail(self, lines: int = 5) -> str:
        """The last `lines` lines of the run's log, for a failure report."""
        try:
            return "\n".join((self.run_dir / "train.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def candidate_name(now: datetime | None = None) -> str:
    """A candidate model's folder name: `candidate-` and the UTC time, so names sort by age."""
    return "candidate-" + (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def train_command(job: RetrainJob, init_dir: Path, feedback_csv: Path, data_dir: Path | None, models_dir: Path,
                  samples: int, epochs: float, threads: int) -> list[str]:
    """The `toxmod train` invocation: current model + feedback (weighted up) + the corpora at hand + a replay of
    the rest."""
    command = [sys.executable, "-m", "bot.cli", "train", "--name", job.name, "--version", job.name,
               "--init", str(init_dir), "--feedback", str(feedback_csv), "--models-dir", str(models_dir),
               "--run-dir", str(job.run_dir), "--samples-per-epoch", str(samples), "--epochs", str(epochs),
               "--threads", str(threads), "--source-weight", "feedback=4"]
    # the corpora the data directory holds are read whole; the current model's replay sample (which `toxmod
    # train` takes from --init) stands in for the rest, so the candidate does not forget them
    command += ["--data-dir", str(data_dir), "--skip-missing"] if data_dir is not None else ["--no-data"]
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
    assert job.process is not None  # noqa: S101 - narrows for mypy: only a started job is waited for
    try:
        job.returncode = await job.process.wait()
    finally:
        job.feedback_csv.unlink(missing_ok=True)
    if job.returncode != 0:
        job.error = job.log_tail(3) or f"exit status {job.returncode}"
