"""A server's flood and raid detection: off unless its admins turn it on, with its own thresholds."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import ToxmodBot
from bot.discord.checks import ADMIN, GuardedGroup, guild_of
from bot.discord.errors import UserInputError, send_ephemeral
from bot.discord.guild_settings._common import update_settings
from bot.moderation.floods import FloodSettings


def describe(settings: FloodSettings) -> str:
    """What the server watches for, in a few lines."""
    if not settings.enabled:
        return "Flood and raid detection is off here (the default): every message is moderated on its own."
    raid = (f"**Raid**: {settings.raid_members} members, each within {settings.raid_join_minutes} min of joining, "
            f"post the same text within {settings.window_seconds} s." if settings.raid_members
            else "**Raids** are not watched (raid_members 0).")
    slow = (f"**Slow mode**: {settings.slowmode_seconds} s, set in each channel a flood or raid reaches."
            if settings.slowmode_seconds else "**Slow mode**: not set (slowmode_seconds 0).")
    return "\n".join([
        "Flood and raid detection is **on** here: each flood or raid is one flag, its repeats are not scored.",
        f"**Flood**: one member posts the same text {settings.repeats} times within {settings.window_seconds} s, "
        "in any channels.", raid, slow])


class Floods(commands.Cog):
    """/floods: whether this server watches for floods and raids, their thresholds, and the slow mode."""

    floods = GuardedGroup(name="floods", description="Floods and raids: one flag each, optional slow mode",
                          permissions=ADMIN)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot

    @floods.command(name="show", description="Flood and raid detection here, and its thresholds")
    async def floods_show(self, interaction: discord.Interaction) -> None:
        """/floods show: whether floods and raids are watched here, and how."""
        config = await self.bot.moderation.guild_config(guild_of(interaction).id)
        await send_ephemeral(interaction, describe(config.floods))

    @floods.command(name="set", description="Turn flood and raid detection on or off, or change its thresholds")
    @app_commands.describe(
        enabled="watch for floods and raids here (off by default)",
        repeats="a flood: one member posts the same text this many times (default 5)",
        window_seconds="... within this many seconds; also a raid's window (default 60)",
        raid_members="a raid: this many new members post the same text (default 10; 0: raids not watched)",
        raid_join_minutes="a member is new this many minutes after joining (default 5)",
        slowmode_seconds="slow mode to set in each channel a flood or raid reaches (default 0: none)")
    async def floods_set(self, interaction: discord.Interaction, enabled: bool | None = None,
                         repeats: app_commands.Range[int, 2, 100] | None = None,
                         window_seconds: app_commands.Range[int, 5, 3600] | None = None,
                         raid_members: app_commands.Range[int, 0, 500] | None = None,
                         raid_join_minutes: app_commands.Range[int, 1, 10080] | None = None,
                         slowmode_seconds: app_commands.Range[int, 0, 21600] | None = None) -> None:
        """/floods set: change what is given, keep the rest (audited like every settings change)."""
        guild = guild_of(interaction)
        given: dict[str, object] = {name: value for name, value in (
            ("enabled", enabled), ("repeats", repeats), ("window_seconds", window_seconds),
            ("raid_members", raid_members), ("raid_join_minutes", raid_join_minutes),
            ("slowmode_seconds", slowmode_seconds)) if value is not None}
        if not given:
            raise UserInputError("Give at least one setting to change; `/floods show` shows them.")
        if raid_members == 1:
            raise UserInputError("A raid takes at least 2 members (0 stops watching for raids).")
        await update_settings(self.bot, guild.id, interaction.user.id, "floods_set", {"floods": given})
        settings = (await self.bot.moderation.guild_config(guild.id)).floods
        note = ""
        may_slow = guild.me is not None and guild.me.guild_permissions.manage_channels
        if settings.enabled and settings.slowmode_seconds and not may_slow:
            note = "\nI lack the Manage Channels permission, so the slow mode will not be set; each flag will say so."
        await send_ephemeral(interaction, f"Saved.\n{describe(settings)}{note}")
