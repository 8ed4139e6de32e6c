"""Which messages a server's models read, by language, and what happens to the others.

A server moderates a set of languages (by default every language the serving model reads). A message is
scored only if its language is both moderated there and read by the model; any other message follows the
server's rule for unsupported languages: ignored (the default: nothing is stored), or sent to review as a
flag marked with its language and no scores. It is never scored as if it were English.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.decision import Decision
from bot.moderation.guild_config import GuildConfig
from bot.moderation.policy import Policy
from bot.moderation.worker import ScoringWorker
from bot.scoring.language import Detected, LanguageIdentifier

UNSUPPORTED_RULES = ("ignore", "review")


def moderated_languages(config: GuildConfig | None, model_languages: Sequence[str]) -> tuple[str, ...]:
    """The server's languages in its order (the first is the fallback for messages too short to tell)."""
    return tuple(config.languages) if config is not None and config.languages else tuple(model_languages)


def reads(detected: Detected, config: GuildConfig | None, model_languages: Sequence[str]) -> bool:
    """Whether the message is scored: its language is one the model reads and the server moderates."""
    return detected.language in model_languages and detected.language in moderated_languages(config, model_languages)


def unread_decision(detected: Detected, config: GuildConfig | None, model_version: str) -> Decision:
    """The decision for a message that is not read: sent to review or ignored, by the server's rule."""
    review = config is not None and config.unsupported_language == "review"
    return Decision.unread(detected.language, model_version, review)


def validate_languages(codes: Sequence[str]) -> tuple[str, ...]:
    """Two-letter ISO 639-1 codes, lower-cased and in order without repeats; anything else is refused."""
    out: list[str] = []
    for code in codes:
        code = code.strip().lower()
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            raise ValueError(f"{code!r} is not a two-letter language code (ISO 639-1, e.g. en, es, de)")
        if code not in out:
            out.append(code)
    if not out:
        raise ValueError("name at least one language")
    return tuple(out)


def decide_texts(scorer: ScoringWorker, identifier: LanguageIdentifier, texts: Sequence[str], policy: Policy,
                 config: GuildConfig | None = None) -> list[Decision]:
    """Messages outside any guild's pipeline (`toxmod score`, `/scan`): each identified, those the model
    reads scored in one batch and decided by `policy`, the others left unread."""
    languages = scorer.languages
    fallback = moderated_languages(config, languages)
    detected = [identifier.identify(text, fallback) for text in texts]
    read = [i for i, d in enumerate(detected) if reads(d, config, languages)]
    scores = dict(zip(read, scorer.score_many([texts[i] for i in read], [detected[i].language for i in read]),
                      strict=True))
    return [policy.decide(scores[i], d.language) if i in scores
            else unread_decision(d, config, scorer.model.version) for i, d in enumerate(detected)]
