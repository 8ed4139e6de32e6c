"""Does a model flag what a moderator would, on chat it never saw?

`chat_probes.csv` holds short messages never trained or calibrated on, in three batches. The first was written
after model v2.2's training data was fixed: positive and neutral mentions of groups, everyday chat and
gaming banter that must stay quiet, threats, hate and insults that must be flagged, and the examples quoted
in issue 8 (`issue_example`; "ez" is also in the contrast set, as clean). The second was written after
v3's training data was fixed (its counterfactual rules and sources): negated hate, counter-speech that
quotes or reports hate, positive and neutral statements about groups, everyday "you / your" requests,
violence in fiction, games and work idioms, more threats, hate and insults, and the examples quoted in
issue 21 (`issue21_example`). The third was written after v3.1's training data was fixed: v3.1's
counterfactual rules were reworked knowing which second-batch messages v3.0 got wrong (though not from
them), so only the third batch is unseen in that sense for v3.1. Each model scores them as `toxmod score`
does: the same settings (.env, engine, tuning cache), language identification, the scoring worker, and
the thresholds the model ships with. The printout is counts per batch and kind, then every message a model
gets wrong; the README's model section quotes it.

Run: `python benchmarks/chat_probes.py [MODEL_DIR ...]` (default: the current model), `--batch N` for one
batch, `--jsonl` for one JSON object per model, batch and kind.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.moderation.languages import decide_texts  # noqa: E402
from bot.moderation.policy import scorer_policy  # noqa: E402
from bot.moderation.worker import open_scorer  # noqa: E402
from bot.scoring.language import LanguageIdentifier  # noqa: E402
from bot.settings import Settings  # noqa: E402

PROBES = Path(__file__).with_name("chat_probes.csv")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", type=Path, help="model directories (default: models/current)")
    parser.add_argument("--batch", help="only this batch of probes (1, 2 or 3)")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per model, batch and kind")
    args = parser.parse_args()
    with PROBES.open(encoding="utf-8", newline="") as f:
        probes = [p for p in csv.DictReader(f) if args.batch in (None, p["batch"])]
    settings = Settings.load(None)
    for model_dir in args.models or [settings.model_dir]:  # MODEL_DIR, else the model models/current names
        worker = open_scorer(dataclasses.replace(settings, model_dir=model_dir))
        try:
            decisions = decide_texts(worker, LanguageIdentifier(), [p["text"] for p in probes],
                                     scorer_policy(worker))
        finally:
            worker.stop()
        model = worker.model
        right: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        wrong = []
        for probe, decision in zip(probes, decisions, strict=True):
            ok = decision.flagged == (probe["expect"] == "flag")
            right[probe["batch"], probe["kind"]][0] += ok
            right[probe["batch"], probe["kind"]][1] += 1
            if not ok:
                wrong.append((probe, decision))
        if args.jsonl:
            for (batch, kind), (good, total) in right.items():
                print(json.dumps({"model": model.version, "batch": int(batch), "kind": kind, "right": good,
                                  "total": total}))
            continue
        for batch in sorted({batch for batch, _ in right}):
            print(f"{model.version} batch {batch}: " + ", ".join(
                f"{kind} {good}/{total}" for (b, kind), (good, total) in right.items() if b == batch))
        for probe, decision in wrong:
            shown = ", ".join(f"{label} {p:.2f}" for label, p in decision.top) or f"not read: {decision.language}"
            print(f"  {'missed' if probe['expect'] == 'flag' else 'flagged'}: {probe['text']!r} ({shown})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
