"""The model, for admins: info, reload, retraining from verdicts, and promoting or discarding candidates."""

from __future__ import annotations

from bot.discord.admin._views import CandidateButton
from bot.discord.admin.cog import ModelAdmin
from bot.discord.app import ToxmodBot


async def setup(bot: ToxmodBot) -> None:
    """Load the admin cog and its persistent Promote / Discard buttons (the extension's entry point)."""
    await bot.add_cog(ModelAdmin(bot))
    bot.add_dynamic_items(CandidateButton)  # Promote / Discard keep working after a restart


async def teardown(bot: ToxmodBot) -> None:
    """Unregister the persistent buttons when the extension unloads."""
    bot.remove_dynamic_items(CandidateButton)
