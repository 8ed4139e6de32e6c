"""The retrain report the mod-log shows admins: the candidate against the serving model, on the same
validation rows, so Promote or Discard is decided on figures both were measured by."""

from __future__ import annotations

import time

import discord

from bot.discord.admin.retrain import RetrainJob
from bot.scoring.report import Comparison, TrainingData


def report_embed(job: RetrainJob, comparison: Comparison | None, trained_on: TrainingData | None = None,
                 outcome: str | None = None) -> discord.Embed:
    """What the candidate was trained on, and candidate vs current; a failed retrain shows the end of its log
    instead."""
    if job.error:
        return discord.Embed(title=f"Retrain failed: {job.name}", colour=discord.Colour.red(),
                             description=f"```\n{job.error[-1500:]}\n```")
    embed = discord.Embed(title=f"Retrain finished: {job.name}", colour=discord.Colour.blurple(),
                          description=f"Trained in {(time.monotonic() - job.started) / 60:.1f} min on "
                                      f"{(trained_on or TrainingData(job.verdicts)).describe()}."[:4096])
    if comparison:
        lines = [f"`{r.name}` {r.current:.4f} → {r.candidate:.4f} ({r.candidate - r.current:+.4f})"
                 for r in comparison.rows]
        embed.add_field(name=f"Candidate vs current ({comparison.current_version})",
                        value="\n".join(lines)[:1024] or "no shared figures", inline=False)
    embed.add_field(name="Status", value=outcome or "Waiting for an admin: Promote or Discard", inline=False)
    return embed
