"""Moderator review: `/flags`, `/scan` and `/stats`. The mod-log they act on is the mod-log service's."""

from __future__ import annotations

from bot.discord.app import ToxmodBot
from bot.discord.review.cog import Review


async def setup(bot: ToxmodBot) -> None:
    """Load the review cog (the extension's entry point)."""
    await bot.add_cog(Review(bot))
