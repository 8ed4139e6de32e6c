"""The model: what is serving and how it measures in this server (`/model info`, server admins), and the
process-wide controls, for the bot's owner only since they change every server's model: switching models
without a restart (`/model reload`), retraining from a server's verdicts (`/model retrain`, `/model status`,
then Promote or Discard under the report)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

import discord
from discord.ext import commands

from bot.discord.admin import retrain
from bot.discord.admin._report import report_embed
from bot.discord.admin._views import candidate_view
from bot.discord.app import ToxmodBot
from bot.discord.checks import ADMIN, GuardedGroup, guild_of, is_owner, require_owner
from bot.discord.errors import UserInputError, send_ephemeral
from bot.discord.modlog import post_notice
from bot.moderation.feedback.export import feedback_rows, write_feedback_csv
from bot.moderation.feedback.run_folders import runs_dir
from bot.moderation.feedback.verdicts import reviewed_flags
from bot.scoring.info import ModelNotFoundError
from bot.scoring.report import Comparison, ModelReport, TrainingData
from bot.storage.changes import Change, announce
from bot.storage.locks import try_lock
from bot.storage.modlog_posts import modlog_backlog
from bot.storage.stats import flag_counts_since
from bot.storage.tables import utcnow

log = logging.getLogger(__name__)


class ModelAdmin(commands.Cog):
    """/model: retrain a candidate from this server's verdicts, follow it, and reload the model; owner only."""

    model = GuardedGroup(name="model", description="The toxicity model", permissions=ADMIN)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot
        self.retrain_job: retrain.RetrainJob | None = None
        self.retrain_task: asyncio.Task | None = None

    async def cog_unload(self) -> None:
        """Stop a running retrain's process as the bot shuts down (it can be started again)."""
        job = self.retrain_job
        if job is not None and job.running and job.process is not None:
            log.warning("stopping retrain %s: the bot is shutting down (it can be started again)", job.name)
            job.process.terminate()

    # -- /model retrain, /model status ---------------------------------------------------------------------
    @model.command(name="retrain", description="Train a candidate from this server's verdicts (runs in the background)")
    async def model_retrain(self, interaction: discord.Interaction) -> None:
        """/model retrain: train a candidate from this server's verdicts in a child process."""
        bot, guild = self.bot, guild_of(interaction)
        await require_owner(interaction)
        job = self.retrain_job
        if job is not None and job.running:
            step = job.progress().get("step", 0)
            raise UserInputError(f"A retrain is already running ({job.name}, step {step}); see /model status.")
        # one retrain at a time across every process sharing the database, held until the child exits
        lock = await asyncio.to_thread(try_lock, bot.db.engine, "retrain")
        if lock is None:
            raise UserInputError("A retrain is already running (in this or another bot process); wait for its "
                                 "report in the mod-log.")
        try:
            job = await self._start_retrain(guild)
        except BaseException:
            lock.release()
            raise
        job.lock = lock
        self.retrain_job = job
        self.retrain_task = asyncio.create_task(self._finish_retrain(guild, job))
        log.info("retrain %s started by %s on %d verdicts", job.name, interaction.user.id, job.verdicts)
        await interaction.followup.send(
            f"Retrain started: candidate `{job.name}` from {job.verdicts} verdicts. Follow it with /model status; "
            "the report will be posted in the mod-log.", ephemeral=True)

    async def _start_retrain(self, guild: discord.Guild) -> retrain.RetrainJob:
        settings, name = self.bot.settings, retrain.candidate_name()
        flags = await self.bot.db.read(lambda s: reviewed_flags(s, guild.id))
        rows = feedback_rows(flags)
        if not rows:
            raise UserInputError("No moderator verdicts with text yet: confirm or dismiss some flags first.")
        job = retrain.RetrainJob(name=name, guild_id=guild.id, verdicts=len(rows),
                                 run_dir=runs_dir(settings.models_dir) / name,
                                 model_dir=Path(settings.models_dir) / name)
        job.run_dir.mkdir(parents=True, exist_ok=True)
        feedback_csv = job.run_dir / "feedback.csv"
        await asyncio.to_thread(write_feedback_csv, rows, feedback_csv)
        data_dir = Path(settings.data_dir) if Path(settings.data_dir).is_dir() else None
        command = retrain.train_command(job, self.bot.scorer.model.info.path, feedback_csv, data_dir,
                                        Path(settings.models_dir), settings.retrain_samples,
                                        settings.retrain_epochs, settings.retrain_threads)
        await retrain.start_process(job, command, settings.retrain_threads)
        return job

    async def _finish_retrain(self, guild: discord.Guild, job: retrain.RetrainJob) -> None:
        try:
            await retrain.wait(job)
        finally:
            if job.lock is not None:
                job.lock.release()
        comparison, trained_on = None, None
        if not job.error:
            try:
                meta = json.loads(await asyncio.to_thread((job.model_dir / "metadata.json").read_text))
                comparison = Comparison.from_json(meta.get("comparison"))
                trained_on = TrainingData.from_sources(meta.get("sources"))
            except (OSError, json.JSONDecodeError) as exc:
                job.error = f"training finished but the candidate is unreadable: {exc}"
        log.info("retrain %s finished: %s", job.name, job.error or "ok")
        # without a mod-log (or when Discord refuses the post) /model status still shows the outcome
        view = discord.utils.MISSING if job.error else candidate_view(job.name)
        await post_notice(self.bot, guild, "post the retrain report", embed=report_embed(job, comparison, trained_on),
                          view=view)

    @model.command(name="status", description="Progress of the running retrain, or how the last one ended")
    async def model_status(self, interaction: discord.Interaction) -> None:
        """/model status: the running retrain's progress, or how the last one ended."""
        await require_owner(interaction)
        job = self.retrain_job
        if job is None:
            await send_ephemeral(interaction, "No retrain has run since the bot started.")
            return
        if job.running:
            p = await asyncio.to_thread(job.progress)
            if p:
                text = (f"Retraining `{job.name}`: step {p['step']}/{p['total_steps']}, "
                        f"{p['seconds'] / 60:.1f} min so far, about {p['eta_seconds'] / 60:.1f} min left.")
            else:
                text = f"Retraining `{job.name}`: preparing data…"
        elif job.error:
            text = f"Retrain `{job.name}` failed:\n```\n{job.error[-1500:]}\n```"
        else:
            text = f"Retrain `{job.name}` finished; its report is in the mod-log (Promote or Discard)."
        await send_ephemeral(interaction, text)

    # -- /model ------------------------------------------------------------------------------------------
    @model.command(name="info", description="The model serving this server, its thresholds here, and this "
                                            "server's figures")
    async def model_info(self, interaction: discord.Interaction) -> None:
        """What an admin of this server may know: its own traffic and mod-log, never another server's figures
        or the host's paths; the bot's owner also sees the process-wide worker."""
        scorer, info = self.bot.scorer, self.bot.scorer.model.info
        embed = discord.Embed(title=f"Model {info.version}", colour=discord.Colour.blurple())
        report = ModelReport.from_metrics(info.metrics)
        jigsaw, bg = report.jigsaw_mean_roc_auc, report.background_flag_rate
        embed.add_field(name="Validation", value=(f"Jigsaw mean ROC-AUC {jigsaw if jigsaw is not None else 'n/a'}\n"
                                                  f"background flag rate {bg if bg is not None else 'n/a'}"))
        guild_id = guild_of(interaction).id
        thresholds = (await self.bot.moderation.policy(guild_id)).thresholds
        embed.add_field(name="Thresholds in force", value="\n".join(f"{k} {v:.2f}" for k, v in thresholds.items()))
        since = utcnow() - timedelta(days=1)
        figures = await self.bot.db.read(lambda s: flag_counts_since(s, guild_id, since))
        embed.add_field(name="This server, last 24 h", value=f"{figures['scored']} scored\n{figures['flags']} flagged")
        embed.add_field(name="Engine", value=scorer.model.choice.describe(), inline=False)
        if await is_owner(interaction):
            rate = scorer.cache_hit_rate
            cache = "off" if not scorer.cache_size else "no lookups yet" if rate is None else f"{100 * rate:.0f}% hits"
            embed.add_field(name="Worker (all servers)", value=(
                f"queue {scorer.queue_depth}\n{scorer.messages_per_second():.1f} msg/s\n{scorer.scored_total} scored"
                f"\nrepeat cache {cache}\nuptime {self.bot.uptime / 3600:.1f} h"))
        unposted, reason = await self.bot.db.read(lambda s: modlog_backlog(s, guild_id))
        embed.add_field(name="Mod-log", inline=False, value=(
            f"⚠ {unposted} flags not posted yet ({reason or 'waiting'}); retried automatically" if unposted else "OK"))
        if self.bot.db.health:
            embed.add_field(name="Database", value=f"⚠ {self.bot.db.health}", inline=False)
        await send_ephemeral(interaction, embed=embed)

    @model.command(name="reload", description="Switch to the model models/current names, without a restart "
                                              "(in every bot process)")
    async def model_reload(self, interaction: discord.Interaction) -> None:
        """/model reload: switch to the model models/current names, in every bot process."""
        await require_owner(interaction)
        try:
            old, new = await self.bot.moderation.reload_model(self.bot.settings)
        except (ModelNotFoundError, OSError, ValueError) as exc:
            log.warning("model reload by %s failed: %s", interaction.user.id, exc)
            raise UserInputError(f"Reload failed, still using {self.bot.scorer.model.version}: the model named by "
                                 "models/current is missing or unreadable (the bot's log has the details).") from exc
        log.info("model reloaded by %s: %s -> %s", interaction.user.id, old, new)
        await self.bot.db.write(lambda s: announce(s, Change(model=new)))  # and so does every other process
        await interaction.followup.send(f"Model reloaded: {old} → {new}.", ephemeral=True)
