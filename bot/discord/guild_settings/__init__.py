"""Admin settings of a guild: mod-log channel, exemptions, automod, privacy, and flag thresholds."""

from __future__ import annotations

from bot.discord.app import ToxmodBot
from bot.discord.guild_settings.cog import ServerSettings
from bot.discord.guild_settings.thresholds import Thresholds


async def setup(bot: ToxmodBot) -> None:
    """Load the server-settings and thresholds cogs (the extension's entry point)."""
    await bot.add_cog(ServerSettings(bot))
    await bot.add_cog(Thresholds(bot))
