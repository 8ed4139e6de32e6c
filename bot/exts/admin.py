"""Admin settings per guild: mod-log channel, thresholds, exemptions, automod, and the model itself."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot import retrain
from bot.app import ToxmodBot
from bot.errors import UserInputError, missing_permissions, send_ephemeral
from bot.exts.checks import ADMIN, GuardedGroup
from bot.exts.live import publish_flag
from bot.feedback import Suggestion, feedback_rows, reviewed_flags, suggest_thresholds, write_feedback_csv
from bot.guild_config import AutomodRule
from bot.labels import LABELS
from bot.modlog import describe_failure
from bot.scoring.model import ModelNotFoundError
from bot.scoring.policy import validate_threshold
from bot.scoring.registry import PromotionRefused, promote
from bot.storage.database import DatabaseError
from bot.storage.models import utcnow
from bot.storage.repository import (
    add_exemption,
    audit,
    erase_texts,
    remove_exemption,
    unposted_flags,
    update_guild_settings,
)

log = logging.getLogger(__name__)

Label = Literal["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
REPOST_LIMIT = 25
SUGGEST_PRECISION = 0.9


class Admin(commands.Cog):
    modlog = GuardedGroup(name="modlog", description="Where flags are posted", permissions=ADMIN)
    thresholds = GuardedGroup(name="thresholds", description="Per-label flag thresholds", permissions=ADMIN)
    exempt = GuardedGroup(name="exempt", description="Channels and roles that are never scored", permissions=ADMIN)
    automod = GuardedGroup(name="automod", description="Automatic actions per label", permissions=ADMIN)
    model = GuardedGroup(name="model", description="The toxicity model", permissions=ADMIN)
    privacy = GuardedGroup(name="privacy", description="Stored message texts", permissions=ADMIN)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot
        self.purge_old_texts.start()

    async def cog_unload(self) -> None:
        self.purge_old_texts.cancel()

    @tasks.loop(hours=24)
    async def purge_old_texts(self) -> None:
        """Retention: flag texts older than RETENTION_DAYS are erased daily (verdicts and scores stay)."""
        cutoff = utcnow() - timedelta(days=self.bot.settings.retention_days)
        try:
            erased = await self.bot.db.write(lambda s: erase_texts(s, before=cutoff))
        except DatabaseError:
            log.exception("retention purge failed; will try again tomorrow")
            return
        if erased:
            log.info("retention: erased the text of %d flags older than %d days", erased,
                     self.bot.settings.retention_days)

    @purge_old_texts.before_loop
    async def _wait_until_ready(self) -> None:
        await self.bot.wait_until_ready()

    # -- /model retrain, /model status ---------------------------------------------------------------------
    @model.command(name="retrain", description="Train a candidate from this server's verdicts (runs in the background)")
    async def model_retrain(self, interaction: discord.Interaction) -> None:
        bot, guild = self.bot, interaction.guild
        job = bot.retrain_job
        if job is not None and job.running:
            step = job.progress().get("step", 0)
            raise UserInputError(f"A retrain is already running ({job.name}, step {step}); see /model status.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings, name = bot.settings, retrain.candidate_name()
        flags = await bot.db.read(lambda s: reviewed_flags(s, guild.id))
        rows = feedback_rows(flags)
        if not rows:
            raise UserInputError("No moderator verdicts with text yet: confirm or dismiss some flags first.")
        job = retrain.RetrainJob(name=name, guild_id=guild.id, verdicts=len(rows),
                                 run_dir=Path(settings.models_dir).resolve().parent / "runs" / name,
                                 model_dir=Path(settings.models_dir) / name)
        job.run_dir.mkdir(parents=True, exist_ok=True)
        feedback_csv = job.run_dir / "feedback.csv"
        await asyncio.to_thread(write_feedback_csv, rows, feedback_csv)
        data_dir = Path(settings.data_dir) if Path(settings.data_dir).is_dir() else None
        command = retrain.train_command(job, bot.scorer.model.info.path, feedback_csv, data_dir,
                                        Path(settings.models_dir), settings.retrain_samples,
                                        settings.retrain_epochs, settings.retrain_threads)
        await retrain.start_process(job, command, settings.retrain_threads)
        bot.retrain_job = job
        bot.retrain_task = asyncio.create_task(self._finish_retrain(guild, job))
        log.info("retrain %s started by %s on %d verdicts", job.name, interaction.user.id, job.verdicts)
        await interaction.followup.send(
            f"Retrain started: candidate `{job.name}` from {job.verdicts} verdicts. Follow it with /model status; "
            "the report will be posted in the mod-log.", ephemeral=True)

    async def _finish_retrain(self, guild: discord.Guild, job: retrain.RetrainJob) -> None:
        await retrain.wait(job)
        comparison = None
        if not job.error:
            try:
                meta = json.loads(await asyncio.to_thread((job.model_dir / "metadata.json").read_text))
                comparison = meta.get("comparison")
            except (OSError, json.JSONDecodeError) as exc:
                job.error = f"training finished but the candidate is unreadable: {exc}"
        log.info("retrain %s finished: %s", job.name, job.error or "ok")
        config = await self.bot.guild_config(guild.id)
        channel = guild.get_channel(config.modlog_channel_id) if config.modlog_channel_id else None
        if channel is None:
            return  # /model status still shows the outcome
        try:
            view = discord.utils.MISSING if job.error else retrain.candidate_view(job.name)
            await channel.send(embed=retrain.report_embed(job, comparison), view=view)
        except discord.HTTPException as exc:
            log.warning("could not post the retrain report: %s", describe_failure(exc))

    @model.command(name="status", description="Progress of the running retrain, or how the last one ended")
    async def model_status(self, interaction: discord.Interaction) -> None:
        job = self.bot.retrain_job
        if job is None:
            await interaction.response.send_message("No retrain has run since the bot started.", ephemeral=True)
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
        await interaction.response.send_message(text, ephemeral=True)

    # -- /privacy ----------------------------------------------------------------------------------------
    @privacy.command(name="forget", description="Erase every stored message text of a member in this server")
    async def privacy_forget(self, interaction: discord.Interaction, member: discord.User) -> None:
        erased = await self.bot.db.write(lambda s: erase_texts(s, guild_id=interaction.guild_id, author_id=member.id))
        await self.bot.db.write(lambda s: audit(s, interaction.guild_id, interaction.user.id, "privacy_forget",
                                                member_id=member.id, erased=erased))
        await interaction.response.send_message(
            f"Erased {erased} stored message texts of {member.mention}; verdicts and scores are kept.", ephemeral=True)

    async def _update(self, guild_id: int, actor_id: int, action: str, **changes: object) -> None:
        await self.bot.db.write(lambda s: update_guild_settings(s, guild_id, actor_id, action, **changes))
        self.bot.forget_guild_config(guild_id)

    # -- /modlog -----------------------------------------------------------------------------------------
    @modlog.command(name="set", description="Post flags in this channel")
    async def modlog_set(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        perms = channel.permissions_for(interaction.guild.me)
        if not (perms.view_channel and perms.send_messages and perms.embed_links):
            raise UserInputError(f"I need View Channel, Send Messages and Embed Links in {channel.mention}.")
        await self._update(interaction.guild_id, interaction.user.id, "modlog_set", modlog_channel_id=channel.id)
        self.bot.modlog_failures.pop(interaction.guild_id, None)
        await interaction.response.send_message(f"Flags will be posted in {channel.mention}.", ephemeral=True)
        await self._repost_unposted(interaction.guild)

    async def _repost_unposted(self, guild: discord.Guild) -> None:
        """Pending flags that never reached a mod-log (none set, or it failed) are posted now."""
        flags = await self.bot.db.read(lambda s: unposted_flags(s, guild.id, REPOST_LIMIT))
        for flag in flags:
            await publish_flag(self.bot, guild, flag)

    # -- /thresholds -------------------------------------------------------------------------------------
    @thresholds.command(name="show", description="Thresholds in force here, and the model's defaults")
    async def thresholds_show(self, interaction: discord.Interaction) -> None:
        config = await self.bot.guild_config(interaction.guild_id)
        defaults = self.bot.scorer.model.info.thresholds
        lines = []
        for label in LABELS:
            value = config.thresholds.get(label)
            lines.append(f"`{label:<13}` {value if value is not None else defaults[label]:.2f}"
                         + (f" (model default {defaults[label]:.2f})" if value is not None else " (model default)"))
        embed = discord.Embed(title="Flag thresholds", description="\n".join(lines), colour=discord.Colour.blurple())
        embed.set_footer(text=f"model {self.bot.scorer.model.version} · a message is flagged when any label "
                              "reaches its threshold")
        await interaction.response.send_message(embed=embed, view=SuggestView(self, interaction.user.id),
                                                ephemeral=True)

    async def suggestions(self, guild_id: int) -> tuple[list[Suggestion], int]:
        """Per-label thresholds from this guild's verdicts, and how many verdicts they rest on."""
        current = dict((await self.bot.policy(guild_id)).thresholds)
        flags = await self.bot.db.read(lambda s: reviewed_flags(s, guild_id))
        return suggest_thresholds(flags, current, SUGGEST_PRECISION), len(flags)

    @thresholds.command(name="set", description="Override one label's threshold in this server")
    async def thresholds_set(self, interaction: discord.Interaction, label: Label,
                             value: app_commands.Range[float, 0.01, 1.0]) -> None:
        validate_threshold(label, value)
        config = await self.bot.guild_config(interaction.guild_id)
        await self._update(interaction.guild_id, interaction.user.id, "thresholds_set",
                           thresholds={**config.thresholds, label: float(value)})
        await interaction.response.send_message(f"`{label}` threshold is now {value:.2f} here.", ephemeral=True)

    @thresholds.command(name="reset", description="Back to the model's calibrated thresholds")
    async def thresholds_reset(self, interaction: discord.Interaction) -> None:
        await self._update(interaction.guild_id, interaction.user.id, "thresholds_reset", thresholds={})
        await interaction.response.send_message("Thresholds reset to the model's defaults.", ephemeral=True)

    # -- /exempt -----------------------------------------------------------------------------------------
    async def _exempt(self, interaction: discord.Interaction, add: bool, channel: discord.abc.GuildChannel | None,
                      role: discord.Role | None) -> None:
        if (channel is None) == (role is None):
            raise UserInputError("Give exactly one channel or one role.")
        kind, target = ("channel", channel) if channel is not None else ("role", role)
        change = add_exemption if add else remove_exemption
        changed = await self.bot.db.write(
            lambda s: change(s, interaction.guild_id, kind, target.id, interaction.user.id))
        self.bot.forget_guild_config(interaction.guild_id)
        if add:
            text = f"{target.mention} is now exempt." if changed else f"{target.mention} was already exempt."
        else:
            text = f"{target.mention} is scored again." if changed else f"{target.mention} was not exempt."
        await interaction.response.send_message(text, ephemeral=True)

    @exempt.command(name="add", description="Never score messages in a channel or from a role")
    async def exempt_add(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None,
                         role: discord.Role | None = None) -> None:
        await self._exempt(interaction, True, channel, role)

    @exempt.command(name="remove", description="Score a channel or role again")
    async def exempt_remove(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None,
                            role: discord.Role | None = None) -> None:
        await self._exempt(interaction, False, channel, role)

    @exempt.command(name="list", description="Exempt channels and roles")
    async def exempt_list(self, interaction: discord.Interaction) -> None:
        config = await self.bot.guild_config(interaction.guild_id)
        lines = [f"<#{c}>" for c in sorted(config.exempt_channels)] + [f"<@&{r}>" for r in sorted(config.exempt_roles)]
        await interaction.response.send_message("\n".join(lines) or "Nothing is exempt.", ephemeral=True)

    # -- /automod ----------------------------------------------------------------------------------------
    @automod.command(name="show", description="Automatic actions per label (off unless set)")
    async def automod_show(self, interaction: discord.Interaction) -> None:
        config = await self.bot.guild_config(interaction.guild_id)
        lines = [f"`{label}` ≥ {rule.threshold:.2f}: " + (", ".join(
                     filter(None, ["delete" if rule.delete else "",
                                   f"timeout {rule.timeout_minutes} min" if rule.timeout_minutes else ""]))
                     or "nothing")
                 for label, rule in config.automod.items()]
        await interaction.response.send_message("\n".join(lines) or "Automod is off for every label.", ephemeral=True)

    @automod.command(name="set", description="Delete and/or time out when a label passes a higher threshold")
    @app_commands.describe(threshold="score at which to act; 0 turns this label's automod off",
                           timeout_minutes="0 for no timeout")
    async def automod_set(self, interaction: discord.Interaction, label: Label,
                          threshold: app_commands.Range[float, 0.0, 1.0], delete: bool = False,
                          timeout_minutes: app_commands.Range[int, 0, 40320] = 0) -> None:
        config = await self.bot.guild_config(interaction.guild_id)
        rules = {name: rule.to_json() for name, rule in config.automod.items()}
        if threshold == 0 or not (delete or timeout_minutes):
            rules.pop(label, None)
            text = f"Automod is off for `{label}`."
        else:
            in_force = (await self.bot.policy(interaction.guild_id)).thresholds[label]
            if threshold < in_force:
                raise UserInputError(f"The automod threshold must be at least the flag threshold ({in_force:.2f}).")
            rules[label] = AutomodRule(float(threshold), delete, timeout_minutes).to_json()
            text = f"Automod for `{label}` ≥ {threshold:.2f} set."
        await self._update(interaction.guild_id, interaction.user.id, "automod_set", automod=rules)
        await interaction.response.send_message(text, ephemeral=True)

    # -- /model ------------------------------------------------------------------------------------------
    @model.command(name="info", description="Model version, metrics, thresholds, queue and throughput")
    async def model_info(self, interaction: discord.Interaction) -> None:
        scorer, info = self.bot.scorer, self.bot.scorer.model.info
        embed = discord.Embed(title=f"Model {info.version}", colour=discord.Colour.blurple())
        metrics = info.metrics or {}
        jigsaw = metrics.get("jigsaw_mean_roc_auc")
        bg = (metrics.get("background_heldout") or {}).get("flag_rate")
        embed.add_field(name="Validation", value=(f"Jigsaw mean ROC-AUC {jigsaw if jigsaw is not None else 'n/a'}\n"
                                                  f"background flag rate {bg if bg is not None else 'n/a'}"))
        thresholds = (await self.bot.policy(interaction.guild_id)).thresholds
        embed.add_field(name="Thresholds in force", value="\n".join(f"{k} {v:.2f}" for k, v in thresholds.items()))
        embed.add_field(name="Worker", value=(f"queue {scorer.queue_depth}\n{scorer.messages_per_second():.1f} msg/s"
                                              f"\n{scorer.scored_total} scored\nuptime {self.bot.uptime / 3600:.1f} h"))
        failure = self.bot.modlog_failures.get(interaction.guild_id)
        embed.add_field(name="Mod-log", value=f"⚠ {failure}" if failure else "OK", inline=False)
        if self.bot.db.last_error:
            embed.add_field(name="Database", value=f"⚠ {self.bot.db.last_error}", inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @model.command(name="reload", description="Switch to the model models/current names, without a restart")
    async def model_reload(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            old, new = await self.bot.reload_model()
        except (ModelNotFoundError, OSError, ValueError) as exc:
            raise UserInputError(f"Reload failed, still using {self.bot.scorer.model.version}: {exc}") from exc
        log.info("model reloaded by %s: %s -> %s", interaction.user.id, old, new)
        await interaction.followup.send(f"Model reloaded: {old} → {new}.", ephemeral=True)


async def setup(bot: ToxmodBot) -> None:
    await bot.add_cog(Admin(bot))


async def handle_candidate(interaction: discord.Interaction, action: str, name: str) -> None:
    """Promote (refused when worse on shared validation) or Discard a retrained candidate; admins only."""
    bot: ToxmodBot = interaction.client  # type: ignore[assignment]
    if interaction.guild is None or missing_permissions(interaction, manage_guild=True):
        await send_ephemeral(interaction, "You need the Manage Server permission to do that.")
        return
    models_dir = Path(bot.settings.models_dir)
    if not (models_dir / name).is_dir():
        await send_ephemeral(interaction, f"Candidate `{name}` no longer exists.")
        return
    if action == "promote":
        try:
            await asyncio.to_thread(promote, models_dir, name)
            old, new = await bot.reload_model()
        except (PromotionRefused, ModelNotFoundError) as exc:
            await send_ephemeral(interaction, f"Not promoted: {exc}")
            return
        outcome = f"Promoted by {interaction.user.mention}: now serving {new} (was {old})."
    else:
        if bot.scorer.model.info.path.resolve() == (models_dir / name).resolve():
            await send_ephemeral(interaction, "That model is in service; roll back before discarding it.")
            return
        await asyncio.to_thread(shutil.rmtree, models_dir / name)
        outcome = f"Discarded by {interaction.user.mention}."
    await bot.db.write(lambda s: audit(s, interaction.guild_id, interaction.user.id, f"candidate_{action}",
                                       candidate=name))
    embed = interaction.message.embeds[0] if interaction.message and interaction.message.embeds else None
    if embed is not None:
        embed.set_field_at(len(embed.fields) - 1, name="Status", value=outcome, inline=False)
    await interaction.response.edit_message(embed=embed, view=retrain.candidate_view(name, disabled=True))


class SuggestView(discord.ui.View):
    """Under /thresholds show: propose thresholds from this guild's verdicts; applying them is a second click."""

    def __init__(self, cog: Admin, owner_id: int) -> None:
        super().__init__(timeout=600)
        self.cog, self.owner_id = cog, owner_id
        self.proposed: dict[str, float] = {}

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.owner_id and not missing_permissions(interaction, manage_guild=True)

    @discord.ui.button(label="Suggest from verdicts", style=discord.ButtonStyle.primary)
    async def suggest(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        suggestions, verdicts = await self.cog.suggestions(interaction.guild_id)
        lines = []
        for sug in suggestions:
            if sug.threshold is None:
                lines.append(f"`{sug.label:<13}` keep {sug.current:.2f} (only {sug.positives} kept, "
                             f"{sug.negatives} removed)")
            else:
                self.proposed[sug.label] = sug.threshold
                lines.append(f"`{sug.label:<13}` {sug.current:.2f} → **{sug.threshold:.2f}** "
                             f"(precision {sug.precision:.2f}, recall {sug.recall:.2f}; "
                             f"{sug.positives} kept, {sug.negatives} removed)")
        embed = discord.Embed(title=f"Suggested thresholds (target precision {SUGGEST_PRECISION})",
                              description="\n".join(lines), colour=discord.Colour.blurple())
        embed.set_footer(text=f"from {verdicts} verdicts in this server; nothing changes until you apply")
        button.disabled = True
        self.apply.disabled = not self.proposed
        await interaction.response.edit_message(embed=embed, view=self)

    @discord.ui.button(label="Apply suggestions", style=discord.ButtonStyle.danger, disabled=True)
    async def apply(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        config = await self.cog.bot.guild_config(interaction.guild_id)
        await self.cog._update(interaction.guild_id, interaction.user.id, "thresholds_apply_suggested",
                               thresholds={**config.thresholds, **self.proposed})
        button.disabled = True
        applied = ", ".join(f"{label} {value:.2f}" for label, value in self.proposed.items())
        await interaction.response.edit_message(content=f"Applied: {applied}.", view=self)
