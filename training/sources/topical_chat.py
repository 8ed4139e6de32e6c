"""Topical-Chat (Gopalakrishnan et al. 2019): crowd workers chatting about sports, films, politics, places and
people, read as clean background.

It is the everyday talk a moderation bot must leave alone even when it names groups, countries, weapons,
deaths or crimes, which the technical IRC background rarely does. A fifth of the conversations (chosen by
a hash of the conversation id, so a conversation never straddles the line) is held out of training and
validation altogether: it is the honest measure of how often the shipped model flags talk of this kind.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Literal

import pandas as pd

from training.sources._common import CLEAN, NOT_BACKGROUND, check_columns, finish, read_csv

log = logging.getLogger(__name__)

HELDOUT_PERCENT = 20

Part = Literal["train", "heldout"]


def heldout_conversation(conversation_id: str) -> bool:
    """Whether a conversation belongs to the held-out background (salted apart from the text-hash split)."""
    digest = hashlib.sha256(b"topical-heldout\0" + conversation_id.encode("utf-8")).hexdigest()
    return int(digest, 16) % 100 < HELDOUT_PERCENT


def topical_messages(path: Path, part: Part = "train") -> list[str]:
    """The messages of one part, without lines that swear or attack (nobody annotated them as clean)."""
    df = read_csv(path)
    check_columns(df, ["conversation_id", "message"], path)
    held = df["conversation_id"].map(heldout_conversation)
    chosen = df.loc[held if part == "heldout" else ~held, "message"].str.strip()
    messages = [m for m in chosen if m]
    clean = [m for m in messages if not NOT_BACKGROUND.search(m)]
    log.info("topical_chat (%s): %d messages, %d left out as not clean", part, len(messages),
             len(messages) - len(clean))
    return clean


def load_topical_chat(path: Path) -> pd.DataFrame:
    """The training part as clean rows on every label."""
    messages = topical_messages(path, "train")
    return finish(messages, [CLEAN] * len(messages), "topical_chat", "topical_chat")
