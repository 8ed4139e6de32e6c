"""toxmod: a self-hosted Discord moderation bot with its own toxicity model."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

# Idle OpenMP threads sleep instead of spinning. torch's intra-op threads otherwise busy-wait between
# batches, and on a machine with any other busy process spinning threads score several times slower than
# one thread alone (benchmarks/bench_scoring.py measures it; README, "Speed"). Read once, when torch
# loads OpenMP, so it must be set before any import of torch; a value the user exported wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from bot.discord.app import ToxmodBot


def create_bot(**overrides: object) -> ToxmodBot:
    """Build the bot (settings from the environment / .env, overridden by keyword); see bot.discord.app.

    Imported lazily so the CLI's scoring and training commands do not pay for importing discord.py.
    """
    from bot.discord.app import create_bot as _create_bot

    return _create_bot(**overrides)
