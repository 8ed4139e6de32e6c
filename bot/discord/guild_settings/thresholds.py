"""Per-label flag thresholds of a guild, and suggestions for them from its moderators' verdicts."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import ToxmodBot
from bot.discord.checks import ADMIN, GuardedGroup, guild_of
from bot.discord.errors import acknowledge, missing_permissions, send_ephemeral
from bot.discord.guild_settings._common import Label, update_settings
from bot.labels import LABELS
from bot.moderation.feedback.thresholds import Suggestion, suggest_thresholds
from bot.moderation.feedback.verdicts import reviewed_flags
from bot.moderation.policy import validate_threshold

SUGGEST_PRECISION = 0.9


class Thresholds(commands.Cog):
    """/thresholds: show, override and reset the per-label flag thresholds of a server."""

    thresholds = GuardedGroup(name="thresholds", description="Per-label flag thresholds", permissions=ADMIN)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot

    async def _update(self, guild_id: int, actor_id: int, action: str,
                      patch: dict[str, dict[str, object]] | None = None, **changes: object) -> None:
        await update_settings(self.bot, guild_id, actor_id, action, patch, **changes)

    # -- /thresholds -------------------------------------------------------------------------------------
    @thresholds.command(name="show", description="Thresholds in force here, and the model's defaults")
    async def thresholds_show(self, interaction: discord.Interaction) -> None:
        """/thresholds show: the thresholds in force and the model's defaults, with a Suggest button."""
        config = await self.bot.moderation.guild_config(guild_of(interaction).id)
        defaults = self.bot.scorer.model.info.thresholds
        lines = []
        for label in LABELS:
            value = config.thresholds.get(label)
            lines.append(f"`{label:<13}` {value if value is not None else defaults[label]:.2f}"
                         + (f" (model default {defaults[label]:.2f})" if value is not None else " (model default)"))
        embed = discord.Embed(title="Flag thresholds", description="\n".join(lines), colour=discord.Colour.blurple())
        embed.set_footer(text=f"model {self.bot.scorer.model.version} · a message is flagged when any label "
                              "reaches its threshold")
        await send_ephemeral(interaction, embed=embed, view=SuggestView(self, interaction.user.id))

    async def suggestions(self, guild_id: int) -> tuple[list[Suggestion], int]:
        """Per-label thresholds from this guild's verdicts, and how many verdicts they rest on."""
        current = dict((await self.bot.moderation.policy(guild_id)).thresholds)
        flags = await self.bot.db.read(lambda s: reviewed_flags(s, guild_id))
        return suggest_thresholds(flags, current, SUGGEST_PRECISION), len(flags)

    @thresholds.command(name="set", description="Override one label's threshold in this server")
    async def thresholds_set(self, interaction: discord.Interaction, label: Label,
                             value: app_commands.Range[float, 0.01, 1.0]) -> None:
        """/thresholds set: override one label's threshold in this server."""
        validate_threshold(label, value)
        guild_id = guild_of(interaction).id
        await self._update(guild_id, interaction.user.id, "thresholds_set", {"thresholds": {label: float(value)}})
        await send_ephemeral(interaction, f"`{label}` threshold is now {value:.2f} here.")

    @thresholds.command(name="reset", description="Back to the model's calibrated thresholds")
    async def thresholds_reset(self, interaction: discord.Interaction) -> None:
        """/thresholds reset: back to the model's calibrated thresholds."""
        await self._update(guild_of(interaction).id, interaction.user.id, "thresholds_reset", thresholds={})
        await send_ephemeral(interaction, "Thresholds reset to the model's defaults.")


class SuggestView(discord.ui.View):
    """Under /thresholds show: propose thresholds from this guild's verdicts; applying them is a second click."""

    def __init__(self, cog: Thresholds, owner_id: int) -> None:
        super().__init__(timeout=600)
        self.cog, self.owner_id = cog, owner_id
        self.proposed: dict[str, float] = {}

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the admin who opened the view may press its buttons."""
        return interaction.user.id == self.owner_id and not missing_permissions(interaction, manage_guild=True)

    @discord.ui.button(label="Suggest from verdicts", style=discord.ButtonStyle.primary)
    async def suggest(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Show the thresholds this guild's verdicts support, and enable Apply."""
        await acknowledge(interaction)
        suggestions, verdicts = await self.cog.suggestions(guild_of(interaction).id)
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
        await interaction.edit_original_response(embed=embed, view=self)

    @discord.ui.button(label="Apply suggestions", style=discord.ButtonStyle.danger, disabled=True)
    async def apply(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Apply the suggested thresholds (audited), once."""
        guild_id = guild_of(interaction).id
        await acknowledge(interaction)
        await self.cog._update(guild_id, interaction.user.id, "thresholds_apply_suggested",
                               {"thresholds": dict(self.proposed)})
        button.disabled = True
        applied = ", ".join(f"{label} {value:.2f}" for label, value in self.proposed.items())
        await interaction.edit_original_response(content=f"Applied: {applied}.", view=self)
