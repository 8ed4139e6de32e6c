"""The model, for admins: info, reload, retraining from verdicts, and promoting or discarding candidates."""

from __future__ import annotations

from bot.discord.app import ToxmodBot
from bot.discord.model.cog import ModelAdmin
from bot.discord.model.retrain import CandidateButton


async def setup(bot: ToxmodBot) -> None:
    await bot.add_cog(ModelAdmin(bot))
    bot.add_dynamic_items(CandidateButton)  # Promote / Discard keep working after a restart


async def teardown(bot: ToxmodBot) -> None:
    bot.remove_dynamic_items(CandidateButton)
