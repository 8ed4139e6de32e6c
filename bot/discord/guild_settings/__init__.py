"""Admin settings of a guild: mod-log channel, exemptions, automod, privacy, flag thresholds, floods and raids,
and the escalation ladder."""

from __future__ import annotations

from bot.discord.app import ToxmodBot
from bot.discord.guild_settings.cog import ServerSettings
from bot.discord.guild_settings.escalation import Escalation
from bot.discord.guild_settings.floods import Floods
from bot.discord.guild_settings.thresholds import Thresholds


async def setup(bot: ToxmodBot) -> None:
    """Load the server-settings, thresholds, floods and escalation cogs (the extension's entry point)."""
    await bot.add_cog(ServerSettings(bot))
    await bot.add_cog(Thresholds(bot))
    await bot.add_cog(Floods(bot))
    await bot.add_cog(Escalation(bot))
