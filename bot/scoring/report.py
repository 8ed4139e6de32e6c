"""The validation report of a model, as training writes it into metadata.json and everyone else reads it.

Training writes plain JSON (`metrics`, `comparison`, `sources`); this module is the one reader, so the model list,
promotion, `/model info`, the retrain report and the candidate comparison all agree on what the
figures are called and which way is better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One validation figure two models of the same data can be compared on."""

    name: str
    value: float
    higher_is_better: bool


@dataclass(frozen=True)
class ComparisonRow:
    """One figure of a retrain report: the current model's value and the candidate's."""

    name: str
    current: float
    candidate: float


@dataclass(frozen=True)
class Comparison:
    """A retrained candidate against the model it started from, on the same validation rows."""

    current_version: str
    rows: list[ComparisonRow] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Comparison | None:
        """The comparison a retrained model's metadata holds (its `comparison` entry); None when it has none."""
        if not data:
            return None
        figures = {**data.get("metrics", {}),
                   **{f"{k} ROC-AUC (held-out verdicts)": v for k, v in data.get("feedback_heldout", {}).items()}}
        rows = [ComparisonRow(name, f["current"], f["candidate"]) for name, f in figures.items()
                if f.get("current") is not None and f.get("candidate") is not None]
        return cls(str(data.get("current_version", "?")), rows)

    def format(self) -> str:
        """The comparison as text, one figure a line with its change."""
        lines = [f"candidate vs current ({self.current_version}) on the same validation rows:"]
        lines += [f"  {r.name:<40} {r.current:.4f} -> {r.candidate:.4f} ({r.candidate - r.current:+.4f})"
                  for r in self.rows]
        return "\n".join(lines)


@dataclass(frozen=True)
class ModelReport:
    """The figures of `metadata.json`'s `metrics` that the product reads."""

    jigsaw_mean_roc_auc: float | None = None
    background_flag_rate: float | None = None
    source_roc_auc: dict[str, float] = field(default_factory=dict)  # toxic vs clean, per training source

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any] | None) -> ModelReport:
        """The figures of a model's evaluation metrics (metadata.json) that reports and comparisons use."""
        metrics = metrics or {}
        sources = {name: figures["toxic_roc_auc"] for name, figures in (metrics.get("sources") or {}).items()
                   if figures.get("toxic_roc_auc") is not None}
        return cls(jigsaw_mean_roc_auc=metrics.get("jigsaw_mean_roc_auc"),
                   background_flag_rate=(metrics.get("background_heldout") or {}).get("flag_rate"),
                   source_roc_auc=sources)

    def shared_figures(self) -> dict[str, Figure]:
        """What promotion compares: Jigsaw, each corpus (not moderator feedback), and the false-flag rate."""
        figures = []
        if self.jigsaw_mean_roc_auc is not None:
            figures.append(Figure("jigsaw mean ROC-AUC", self.jigsaw_mean_roc_auc, True))
        figures += [Figure(f"{source} ROC-AUC", auc, True) for source, auc in self.source_roc_auc.items()
                    if not source.startswith("feedback")]
        if self.background_flag_rate is not None:
            figures.append(Figure("background flag rate", self.background_flag_rate, False))
        return {f.name: f for f in figures}

    def feedback_roc_auc(self) -> dict[str, float]:
        """ROC-AUC on each guild's held-out moderator verdicts, where the model was trained with feedback."""
        return {name: auc for name, auc in self.source_roc_auc.items() if name.startswith("feedback")}


@dataclass(frozen=True)
class TrainingData:
    """What a model was trained on, from its metadata's `sources`: moderators' verdicts, the rows of each corpus
    a replay sample gave, and the corpora read whole from a data directory. A retrain's report says it, so an
    admin knows whether the candidate saw the original corpora at all before promoting it."""

    verdicts: int = 0
    replay: dict[str, int] = field(default_factory=dict)
    corpora: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_sources(cls, sources: Sequence[Mapping[str, Any]] | None) -> TrainingData:
        """Read the provenance list training writes (one record per file or corpus it read)."""
        verdicts, replay, corpora = 0, {}, {}
        for source in sources or []:
            if source["name"] == "feedback":
                verdicts += int(source["rows"])
            elif source["name"] == "replay":
                replay.update({name: int(rows) for name, rows in source.get("sources", {}).items()})
            elif source["name"] != "counterfactual":  # rows made from the others in training
                corpora[source["name"]] = int(source["rows"])
        return cls(verdicts, replay, corpora)

    def describe(self) -> str:
        """One line: "12 verdicts; replay sample 3,000 rows (davidson 500, ...); corpora read whole: ..."."""
        def listing(counts: dict[str, int]) -> str:
            return ", ".join(f"{name} {rows:,}" for name, rows in counts.items())

        replay = (f"replay sample {sum(self.replay.values()):,} rows ({listing(self.replay)})" if self.replay
                  else "no replay sample")
        corpora = f"corpora read whole: {listing(self.corpora)}" if self.corpora else "no corpora read whole"
        return f"{self.verdicts:,} verdicts; {replay}; {corpora}"


def compare_reports(current: ModelReport, candidate: ModelReport, current_version: str) -> dict[str, Any]:
    """The `comparison` block training writes for a retrained candidate (read back by Comparison)."""
    mine, theirs = current.shared_figures(), candidate.shared_figures()
    feedback = {name: {"current": auc, "candidate": candidate.feedback_roc_auc()[name]}
                for name, auc in current.feedback_roc_auc().items() if name in candidate.feedback_roc_auc()}
    return {
        "current_version": current_version,
        "metrics": {name: {"current": mine[name].value, "candidate": theirs[name].value,
                           "higher_is_better": mine[name].higher_is_better} for name in mine if name in theirs},
        "feedback_heldout": feedback,
    }
