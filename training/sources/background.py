"""Clean background: Ubuntu IRC support chat, everyday messages nobody annotated, presumed clean.

Background teaches what ordinary chat looks like, so that the labelled corpora (mostly abuse) do not make
every informal message look suspicious. "Presumed clean" does not hold for every line: the channel has
trolls and slur floods, and labelling those clean would teach the opposite of what we want, so any message
with strong profanity, a slur or a death wish is left out (``NOT_BACKGROUND``; it also costs a few
"BitchX" mentions). Topical-Chat, the other background corpus, has its own module. The reasons are in
training/LABEL_MAPPING.md; change both together.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import pandas as pd

from training.sources._common import CLEAN, NOT_BACKGROUND, finish, matching_files

log = logging.getLogger(__name__)

UBUNTU_GLOB = "*.raw.txt"
_IRC_MESSAGE = re.compile(r"\[\d{1,2}:\d{2}\] <([^>\s]+)> ?(.*)")
_IRC_ADDRESSEE = re.compile(r"([^\s:,]+)([:,])(?:\s+|$)")
# mIRC colour codes, then the remaining C0 controls (bold, underline, reverse, stray backspaces).
_IRC_FORMATTING = re.compile(r"\x03\d{0,2}(?:,\d{1,2})?|[\x00-\x08\x0b-\x1f\x7f\ufeff]")


def _ubuntu_messages(file: Path) -> list[str]:
    """Spoken messages of one log, without the addressee prefix IRC uses and Discord does not."""
    parsed = []
    for line in file.read_text(encoding="utf-8", errors="replace").split("\n"):
        match = _IRC_MESSAGE.fullmatch(line.rstrip("\r"))
        if match is not None:  # joins, parts, notices, /me actions have no <nick>
            parsed.append((match.group(1), _IRC_FORMATTING.sub("", match.group(2)).strip()))
    speakers = {nick.lower() for nick, _ in parsed}
    messages = []
    for _, text in parsed:
        prefix = _IRC_ADDRESSEE.match(text)
        # "nick: ..." is always an addressee; "word, ..." only when that word is someone in the log.
        if prefix and (prefix.group(2) == ":" or prefix.group(1).lower() in speakers):
            text = text[prefix.end() :]
        messages.append(text)
    return messages


def _stable_order_key(text: str) -> str:
    """Salted so the subsample is independent of the sha1-based train/validation split."""
    return hashlib.sha256(b"ubuntu-cap\0" + text.encode("utf-8")).hexdigest()


def load_ubuntu_irc(path: Path, cap: int | None = 30000) -> pd.DataFrame:
    """Ubuntu IRC support chat as clean background; ``cap`` keeps it from outweighing the labelled data.

    The cap keeps the messages with the smallest text hashes, so the choice is reproducible without a
    seed and identical messages are kept or dropped together.
    """
    messages = [m for file in matching_files(path, UBUNTU_GLOB) for m in _ubuntu_messages(file)]
    messages = [m for m in messages if m]
    background = [m for m in messages if not NOT_BACKGROUND.search(m)]
    log.info(
        "ubuntu_irc: %d messages, %d left out as not clean", len(messages), len(messages) - len(background)
    )
    if cap is not None and len(background) > cap:
        ranked = sorted(range(len(background)), key=lambda i: (_stable_order_key(background[i]), i))
        background = [background[i] for i in sorted(ranked[:cap])]
    return finish(background, [CLEAN] * len(background), "ubuntu_irc", "ubuntu_irc")
