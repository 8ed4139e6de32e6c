"""Live scoring of every guild message and edit, member reports, and automatic actions."""

from __future__ import annotations

from bot.discord.app import ToxmodBot
from bot.discord.live.cog import LiveScoring


async def setup(bot: ToxmodBot) -> None:
    """Load the live-scoring cog (the extension's entry point)."""
    await bot.add_cog(LiveScoring(bot))
