"""Moderator review: the Review cog and the mod-log it owns (embeds, persistent buttons, posting)."""

from __future__ import annotations

from bot.discord.app import ToxmodBot
from bot.discord.review.cog import Review
from bot.discord.review.views import FlagButton, TimeoutSelect, VerdictSelect


async def setup(bot: ToxmodBot) -> None:
    await bot.add_cog(Review(bot))
    # the buttons carry their state in the custom id, so they keep working after a restart
    bot.add_dynamic_items(FlagButton, TimeoutSelect, VerdictSelect)


async def teardown(bot: ToxmodBot) -> None:
    bot.remove_dynamic_items(FlagButton, TimeoutSelect, VerdictSelect)
