"""The feedback exports a retrain leaves in its run folder, found and removed.

An export holds message texts, so it must not outlive their erasure (privacy, retention).
"""

from __future__ import annotations

from pathlib import Path

from bot.moderation.feedback.export import FEEDBACK_CSV, partial_path


def runs_dir(models_dir: str | Path) -> Path:
    """Where `/model retrain` puts its run folders: `runs/` beside the models directory."""
    return Path(models_dir).resolve().parent / "runs"


def remove_feedback_exports(runs: Path) -> int:
    """Delete the feedback exports left in retrain run folders; how many files went.

    An export holds message texts, so it must not outlive their erasure (privacy, retention). A retrain
    deletes its own when the training child exits; this takes what a killed bot left behind, and the
    export of a retrain still running (its child reads the file once, as it starts).
    """
    names = (FEEDBACK_CSV, partial_path(Path(FEEDBACK_CSV)).name)
    exports = [path for name in names for path in runs.glob(f"*/{name}")]
    for export in exports:
        export.unlink(missing_ok=True)
    return len(exports)
