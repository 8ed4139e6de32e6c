"""The background adapter (Ubuntu IRC): spoken messages only, abuse left out, a reproducible cap."""

from __future__ import annotations

from tests.support.paths import SOURCE_FIXTURES
from tests.support.sources import expect_clean, load
from training.sources import load_ubuntu_irc


def test_ubuntu_irc_parses_messages_and_leaves_out_abuse() -> None:
    df = load("ubuntu_irc")
    assert list(df["text"]) == [
        "how do I list installed packages?",
        "try dpkg -l | less",
        "thanks that worked",
        "ok, what about snaps",
        "bold and red text",
        "the kernel update broke my wifi again",
        "which chipset?",
        "an old broadcom one",
        "that explains it",
    ]
    for _, row in df.iterrows():
        expect_clean(row)


def test_ubuntu_irc_cap_is_a_deterministic_subset() -> None:
    directory = SOURCE_FIXTURES / "ubuntu_irc" / "train"
    full = list(load_ubuntu_irc(directory, cap=None)["text"])
    capped = list(load_ubuntu_irc(directory, cap=4)["text"])
    assert len(capped) == 4
    assert capped == list(load_ubuntu_irc(directory, cap=4)["text"])
    assert capped == [t for t in full if t in capped]  # a subset, in log order
    single = load_ubuntu_irc(directory / "2021-03-05.train-c.raw.txt", cap=None)
    assert len(single) == 4
