"""What the settings cogs share: the label choice Discord shows, and writing a change of guild settings."""

from __future__ import annotations

from typing import Literal

from bot.discord.app import ToxmodBot
from bot.storage.guilds import update_guild_settings

# bot.labels.LABELS written out: Discord gets its choice list from this annotation, and a type checker
# only reads a literal one (tests/bot/discord/test_label_choices.py keeps the two equal)
Label = Literal["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


async def update_settings(bot: ToxmodBot, guild_id: int, actor_id: int, action: str,
                          patch: dict[str, dict[str, object]] | None = None, **changes: object) -> None:
    """Write (and audit) a change to a guild's settings (see `update_guild_settings` for `patch`); every
    process drops its cached configuration of the guild (this one at once, the others when notified)."""
    await bot.db.write(lambda s: update_guild_settings(s, guild_id, actor_id, action, patch, **changes))
    bot.moderation.forget_guild_config(guild_id)
