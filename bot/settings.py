"""All configuration in one object, read from the environment (and a `.env` file) with keyword overrides.

Every setting is documented in `.env.example`; the field name upper-cased is its variable name.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in ("auto", ""):
        return None
    return v in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    discord_token: str = ""
    dev_guild_id: int | None = None
    database_url: str = "sqlite:///toxmod.db"
    models_dir: Path = PROJECT_ROOT / "models"
    model_dir: Path | None = None  # None: the model that models/current names
    data_dir: Path = PROJECT_ROOT.parent / "shared" / "data"
    score_threads: int | None = None
    score_batch_max: int = 64
    score_batch_wait_ms: float = 2.0
    score_max_length: int = 128
    bf16: bool | None = None  # None: use bf16 autocast only where the CPU computes bf16 natively
    log_level: str = "INFO"
    retention_days: int = 90
    retrain_threads: int = 1
    retrain_samples: int = 20000
    retrain_epochs: float = 1.0

    @classmethod
    def load(cls, env_file: str | os.PathLike | None = None, **overrides: object) -> Settings:
        """Environment (after loading `.env`, which never overrides real variables) then overrides."""
        load_dotenv(env_file or PROJECT_ROOT / ".env", override=False)
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(f.name.upper())
            if raw is None:
                continue
            values[f.name] = _convert(f.name, raw)
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        values.update(overrides)
        for key in ("models_dir", "model_dir", "data_dir"):
            if values.get(key) is not None:
                values[key] = Path(values[key])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


def _convert(name: str, raw: str) -> object:
    if name in ("dev_guild_id", "score_threads"):
        return int(raw) if raw.strip() else None
    if name in ("score_batch_max", "score_max_length", "retention_days", "retrain_threads", "retrain_samples"):
        return int(raw)
    if name in ("score_batch_wait_ms", "retrain_epochs"):
        return float(raw)
    if name == "bf16":
        return _bool(raw)
    if name == "model_dir":
        return Path(raw) if raw.strip() else None
    return raw
