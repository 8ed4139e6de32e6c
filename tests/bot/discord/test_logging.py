"""What the bot's start writes to the log: nothing about voice, which toxmod never uses."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from discord.voice_client import VoiceClient

from bot.discord.app import ToxmodBot
from bot.settings import Settings


def test_no_warning_about_voice_libraries_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    # discord.py warns once a process, when its first client is made: make this one the first
    monkeypatch.setattr(VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(VoiceClient, "warn_dave", True, raising=False)
    caplog.set_level(logging.WARNING, logger="discord")
    ToxmodBot(Settings(database_url=f"sqlite:///{tmp_path / 'toxmod.db'}"))
    assert VoiceClient.warn_nacl is False  # discord.py went by its warning
    assert not [r for r in caplog.records if "voice" in r.getMessage()]

    logging.getLogger("discord.client").warning("something else discord.py has to say")
    assert [r.getMessage() for r in caplog.records] == ["something else discord.py has to say"]
