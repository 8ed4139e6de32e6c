"""toxmod: a self-hosted Discord moderation bot with its own toxicity model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.discord.app import ToxmodBot


def create_bot(**overrides: object) -> ToxmodBot:
    """Build the bot (settings from the environment / .env, overridden by keyword); see bot.discord.app.

    Imported lazily so the CLI's scoring and training commands do not pay for importing discord.py.
    """
    from bot.discord.app import create_bot as _create_bot

    return _create_bot(**overrides)
