"""Scoring engine: normalisation, the model, the micro-batching worker and the flag policy."""

from __future__ import annotations

from bot.scoring.model import ToxicityModel
from bot.scoring.registry import resolve_model_dir
from bot.scoring.worker import ScoringWorker
from bot.settings import Settings


def load_model(settings: Settings) -> ToxicityModel:
    """The model the settings name (MODEL_DIR, else the one `models/current` points at)."""
    return ToxicityModel(
        resolve_model_dir(settings.models_dir, settings.model_dir),
        max_length=settings.score_max_length,
        bf16=settings.bf16,
        threads=settings.score_threads,
    )


def open_scorer(settings: Settings) -> ScoringWorker:
    return ScoringWorker(
        load_model(settings), max_batch=settings.score_batch_max, max_wait_ms=settings.score_batch_wait_ms
    ).start()
