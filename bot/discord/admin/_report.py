"""The retrain report the mod-log shows admins: the candidate against the serving model, on the same
validation rows, so Promote or Discard is decided on figures both were measured by."""

from __future__ import annotations

import time

import discord

from bot.discord.admin.retrain import RetrainJob
from bot.scoring.report import Comparison


def report_embed(job: RetrainJob, comparison: Comparison | None, outcome: str | None = None) -> discord.Embed:
    """Candidate vs current; a failed retrain shows the end of its log instead."""
    if job.error:
        return discord.Embed(title=f"Retrain failed: {job.name}", colour=discord.Colour.red(),
                             description=f"```\n{job.error[-1500:]}\n```")
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
