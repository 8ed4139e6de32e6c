"""The label a settings command offers is exactly a label the model has, in the model's order."""

from __future__ import annotations

from typing import get_args

from bot.discord.guild_settings._common import Label
from bot.labels import LABELS


def test_the_label_choice_lists_the_models_labels() -> None:
    assert get_args(Label) == LABELS
