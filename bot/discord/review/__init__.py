"""Moderator review: `/flags`, `/scan`, `/stats` and `/appeals`. The mod-log they act on is the mod-log service's."""

from __future__ import annotations

from bot.discord.app import ToxmodBot
from bot.discord.review.appeals import Appeals
from bot.discord.review.cog import Review


async def setup(bot: ToxmodBot) -> None:
    """Load the review and appeals cogs (the extension's entry point)."""
    await bot.add_cog(Review(bot))
    await bot.add_cog(Appeals(bot))
