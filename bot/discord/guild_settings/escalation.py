"""A server's escalation ladder: what a confirmed flag's strike does to its author, off unless admins set one."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import ToxmodBot
from bot.discord.checks import ADMIN, GuardedGroup, guild_of
from bot.discord.errors import UserInputError, send_ephemeral
from bot.discord.guild_settings._common import update_settings
from bot.moderation.escalation import Ladder, StepKind, parse_steps


class Escalation(commands.Cog):
    """/escalation: the ladder of steps a member's strikes climb, and after how long a strike stops counting."""

    escalation = GuardedGroup(name="escalation", description="Strikes and what they do: warn, time out, suggest a ban",
                              permissions=ADMIN)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot

    @escalation.command(name="show", description="The escalation ladder here")
    async def escalation_show(self, interaction: discord.Interaction) -> None:
        """/escalation show: each step, and when strikes stop counting."""
        config = await self.bot.moderation.guild_config(guild_of(interaction).id)
        await send_ephemeral(interaction, config.escalation.describe())

    @escalation.command(name="set", description="Set the ladder: each confirmed flag is a strike on its author")
    @app_commands.describe(
        steps="comma-separated, one per strike: warn, timeout <n>m|h|d, ban (suggested to moderators only); "
              "e.g. warn, timeout 10m, timeout 1d, ban",
        decay_days="a strike stops counting after this many days (default 30)")
    async def escalation_set(self, interaction: discord.Interaction, steps: app_commands.Range[str, 1, 200],
                             decay_days: app_commands.Range[int, 1, 365] = 30) -> None:
        """/escalation set: replace the ladder (audited like every settings change)."""
        guild = guild_of(interaction)
        try:
            ladder = Ladder(parse_steps(steps), decay_days)
        except ValueError as exc:
            raise UserInputError(f"Nothing was changed: {exc}.") from exc
        await update_settings(self.bot, guild.id, interaction.user.id, "escalation_set",
                              escalation=ladder.to_json())
        note = ""
        times_out = any(step.kind is StepKind.TIMEOUT for step in ladder.steps)
        if times_out and (guild.me is None or not guild.me.guild_permissions.moderate_members):
            note = "\nI lack the Moderate Members permission, so timeouts will fail; each flag's post will say so."
        await send_ephemeral(interaction, f"Saved.\n{ladder.describe()}{note}")

    @escalation.command(name="off", description="Turn the ladder off: confirmed flags are verdicts only")
    async def escalation_off(self, interaction: discord.Interaction) -> None:
        """/escalation off: no more strikes; those already counted stay on record (and can still be appealed)."""
        guild = guild_of(interaction)
        await update_settings(self.bot, guild.id, interaction.user.id, "escalation_off", escalation=None)
        await send_ephemeral(interaction, "The escalation ladder is off: a confirmed flag is only a verdict again.")
