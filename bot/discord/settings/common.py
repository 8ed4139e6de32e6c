"""What the settings cogs share: the label choice Discord shows, and writing a change of guild settings."""

from __future__ import annotations

from typing import Literal

from bot.discord.app import ToxmodBot
from bot.storage.repository import update_guild_settings

Label = Literal["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


async def update_settings(bot: ToxmodBot, guild_id: int, actor_id: int, action: str, **changes: object) -> None:
    """Write (and audit) a change to a guild's settings; the cached configuration is dropped with it."""
    await bot.db.write(lambda s: update_guild_settings(s, guild_id, actor_id, action, **changes))
    bot.moderation.forget_guild_config(guild_id)
