"""Writing a model directory: fp16 weights, tokenizer, config with id2label, metadata and model card."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.labels import LABELS

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

CARD_TEMPLATE = """# {version}

A multilabel toxicity classifier for Discord chat, fine-tuned by toxmod from {base} for the six Jigsaw 2018
labels ({labels}). It is the model the toxmod bot and `toxmod score` load by default.

## Intended use
Scoring chat messages in {audience} so that human moderators see likely violations.
It ranks and flags; it does not decide. Every flag goes to a moderator, whose verdict feeds retraining.
Not for automated punishment without review, not for other languages, not for profiling people.
{language_note}

## Training data and licences
{sources}

Every source is mapped into the six labels with a per-label known mask (see `training/LABEL_MAPPING.md`
in the toxmod repository); a label a source does not annotate contributes nothing to the loss. Texts are
deduplicated by normalised form, within and then across sources, and split 90/10 by a hash of that form.
A quarter of the training texts were obfuscated (leetspeak in and over whole words, homoglyphs, zero-width
characters, spaced letters, stretched letters, starred vowels) with labels kept. Emoji are read as their
English names ("🖕" is "middle finger") before tokenising.

The `contrast` source is written by hand for this project: short chat messages in contrasting groups
where no public corpus covers the case (gaming banter and violent idioms vs. real threats; homonyms of
slurs vs. the same words as attacks; neutral and positive mentions of groups, reclaimed self-reference
and counter-speech vs. hate about the same groups; harmless profanity; emoji as threats or insults vs.
harmless emoji; farewells vs. threats that mention seeing someone). Part of its identity rows are built
from hand-written templates over 22 groups (a positive or neutral statement and a hateful one about each
group: "i'm proud to be {{group}}" beside "{{group}} are subhuman trash"), so that naming a group is not
itself read as hate. It is mixed into training like any source and split by the same hash; thresholds
are calibrated on the whole validation mix, never on it alone.

## Shortcuts found and how each was addressed
{shortcuts}
## Training
{training}

## Validation metrics
```
{report}
```

## Labels shown to moderators
The two labels shown (`top` in `toxmod score --jsonl`, the mod-log, `/scan`, `/flags`) say what a message
does: first the specific labels that passed their thresholds (threat, identity_hate, insult, obscene),
then the umbrella `toxic` and the degree `severe_toxic` if they passed, then the rest, each group ordered
by how far its scores stand above their own thresholds in log-odds. `toxic` is high on anything rude, so
ranking by raw probability, or by margin alone, would show "toxic, ..." on a death threat. "label
fidelity" above measures, per label, how often it is among those two on validation messages annotated
with it, and on those where it is the label a moderator would name: the first one annotated in the order
threat, identity_hate, insult, obscene (a message annotated insult and obscene is named an insult).

## Known limits
{failure_modes}- Only 8,322 of the 159,571 Jigsaw rows are available here; `severe_toxic` is learned from Jigsaw and
  ConvAbuse alone (about 210 positives) and its figures rest on small support.
- Outside Jigsaw and Toxic Spans, `obscene` and `insult` are rarely annotated, so they are learned mostly
  from Wikipedia and news comments, not chat.
- Reads {language_names} only: toxmod identifies each message's language first and scores none other with it.
- Corpora disagree on short gaming slang: CONDA calls "ez" gloating toxic (its implicit class, dropped
  from training for that reason), GameTox calls it clean.
- Thresholds were chosen for a target precision on this validation split; a server with different norms
  should review `/thresholds` and, with enough verdicts, retrain from its moderators' feedback.
"""


SOURCE_CREDITS = {
    "jigsaw": ("Jigsaw/Conversation AI, Toxic Comment Classification Challenge (Kaggle, 2018)",
               "CC0; comment text CC-BY-SA 3.0"),
    "davidson": ("Davidson et al., Automated Hate Speech Detection and the Problem of Offensive Language, "
                 "ICWSM 2017", "MIT"),
    "olid": ("Zampieri et al., Predicting the Type and Target of Offensive Posts in Social Media (OLID), "
             "NAACL 2019", "CC-BY 4.0"),
    "gametox": ("Naseem et al., GameTox, NAACL 2025", "none stated"),
    "conda": ("Weld et al., CONDA, Findings of ACL-IJCNLP 2021", "none stated"),
    "hatexplain": ("Mathew et al., HateXplain, AAAI 2021", "CC-BY 4.0"),
    "convabuse": ("Cercas Curry et al., ConvAbuse, EMNLP 2021", "CC-BY 4.0"),
    "ubuntu_irc": ("Kummerfeld et al., A Large-Scale Corpus for Conversation Disentanglement (Ubuntu IRC), "
                   "ACL 2019", "CC-BY 4.0"),
    "implicit_hate": ("ElSherief et al., Latent Hatred: A Benchmark for Understanding Implicit Hate Speech, "
                      "EMNLP 2021", "CC-BY 4.0"),
    "edos": ("Kirk et al., SemEval-2023 Task 10: Explainable Detection of Online Sexism (EDOS)", "CC0"),
    "toxic_spans": ("Pavlopoulos et al., SemEval-2021 Task 5: Toxic Spans Detection (Civil Comments)", "CC0"),
    "toxigen": ("Hartvigsen et al., ToxiGen, ACL 2022 (human-written seed statements)",
                "MIT + CDLA-Permissive-2.0"),
    "toxichat": ("Baheti et al., Just Say No: Analyzing the Stance of Neural Dialogue Generation in Offensive "
                 "Contexts (ToxiChat), EMNLP 2021", "CC-BY-SA 4.0"),
    "sbic": ("Sap et al., Social Bias Frames, ACL 2020 (dev split)", "CC-BY 4.0"),
    "stormfront": ("de Gibert et al., Hate Speech Dataset from a White Supremacy Forum, ALW 2018", "CC-BY-SA 3.0"),
    "topical_chat": ("Gopalakrishnan et al., Topical-Chat: Towards Knowledge-Grounded Open-Domain Conversations, "
                     "Interspeech 2019 (clean background; a fifth of its conversations held out)", "CDLA-Sharing 1.0"),
    "counterfactual": ("clean rows made from the training split by training/counterfactual.py in the toxmod "
                       "repository (group terms swapped, 'the car' made 'your car', hateful claims negated or "
                       "quoted to condemn them)", "as the rows they were made from"),
    "contrast": ("hand-written chat contrast set, training/contrast/chat_contrast.csv in the toxmod repository",
                 "MIT, as the repository"),
    "feedback": ("verdicts of this server's moderators (toxmod feedback export)", "the server's own data"),
    "replay": ("the starting model's replay sample of its training corpora (its replay.csv.gz)",
               "each row its corpus's, as the starting model's card lists them"),
    "germeval2018": ("Wiegand et al., Overview of the GermEval 2018 Shared Task on the Identification of Offensive "
                     "Language (German tweets)", "CC-BY 4.0"),
    "told_br": ("Leite et al., Toxic Language Detection in Social Media for Brazilian Portuguese (ToLD-Br), "
                "AACL 2020", "CC-BY-SA 4.0"),
    "cold": ("Deng et al., COLD: A Benchmark for Chinese Offensive Language Detection, EMNLP 2022", "Apache-2.0"),
    "ban_pl": ("Kołos et al., BAN-PL: a Novel Polish Dataset of Banned Harmful and Offensive Content from Wykop.pl, "
               "LREC-COLING 2024 (with HATE-WAR-PL)", "CC-BY 4.0; the authors ask for research use and no "
               "operational use without filtering and human oversight (toxmod only shows scores to moderators)"),
    "korean_hate": ("Moon et al., BEEP! Korean Corpus of Online News Comments for Toxic Speech Detection, "
                    "SocialNLP 2020", "CC-BY-SA 4.0"),
    "mlma_fr": ("Ousidhoum et al., Multilingual and Multi-Aspect Hate Speech Analysis (MLMA, French), EMNLP 2019",
                "MIT"),
    "mlma_ar": ("Ousidhoum et al., Multilingual and Multi-Aspect Hate Speech Analysis (MLMA, Arabic), EMNLP 2019",
                "MIT"),
    "offenseval_tr": ("Çöltekin, A Corpus of Turkish Offensive Language on Social Media (OffensEval 2020)",
                      "not stated in the mirror; research shared task data"),
    "offenseval_ar": ("Mubarak et al., Arabic Offensive Language on Twitter (OffensEval 2020)",
                      "not stated in the mirror; research shared task data"),
    "russe_detox": ("Dementieva et al., RUSSE-2022: Russian text detoxification (RuParaDetox)",
                    "not stated in the repository"),
    "japanese_toxic": ("Inspection AI, Japanese toxic dataset (2022)", "Apache-2.0"),
    "id_abusive": ("Ibrohim & Budi, Multi-label Hate Speech and Abusive Language Detection in Indonesian Twitter, "
                   "ALW 2019", "CC-BY-NC-SA 4.0 (non-commercial)"),
}

REPLAY_NOTE_START = "Replay sample: "


def replay_note(metadata: dict) -> str:
    """The card's paragraph on the model's replay sample (training/replay.py), or "" when it has none."""
    sample = metadata.get("replay_sample")
    if not sample:
        return ""
    kept = ", ".join(f"{name} {s['rows']:,}" for name, s in sample["sources"].items())
    left = "; ".join(f"{name} ({why})" for name, why in sample["excluded"].items()) or "none"
    whose = f"{sample['inherited_from']}'s training split" if "inherited_from" in sample else "the training split"
    return (f"{REPLAY_NOTE_START}`{sample['file']}` beside the weights holds {sample['rows']:,} rows of {whose}"
            f" ({sample['bytes'] / 1e6:.1f} MB, sha256 `{sample['sha256'][:16]}…`), sampled by corpus and "
            f"label from the corpora whose licence lets them be passed on, under those licences: {kept}. Left "
            f"out: {left}. `/model retrain` and `toxmod train --init` mix it in for the corpora their data "
            "directory lacks, so a retrain from moderators' verdicts does not forget the rest.")


LANGUAGE_NAMES = {"ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French",
                  "id": "Indonesian", "ja": "Japanese", "ko": "Korean", "pl": "Polish", "pt": "Portuguese",
                  "ru": "Russian", "tr": "Turkish", "zh": "Chinese"}


def language_names(codes: list[str]) -> str:
    """"German, French and Polish" for ["de", "fr", "pl"]."""
    names = [LANGUAGE_NAMES.get(code, code) for code in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def save_model_dir(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out_dir: Path) -> None:
    """Weights in fp16 safetensors (half the size, no loss that matters for scoring) and the tokenizer."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # transformers decorates `to` with functools.wraps(torch.nn.Module.to), which types it as the unbound method
    half: PreTrainedModel = copy.deepcopy(model).to("cpu").half()  # type: ignore[arg-type]
    half.config.id2label = dict(enumerate(LABELS))
    half.config.label2id = {label: i for i, label in enumerate(LABELS)}
    half.config.problem_type = "multi_label_classification"
    half.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def write_metadata(out_dir: Path, metadata: dict) -> None:
    """Write metadata.json: the labels, when it was made, and everything the run reports in `metadata`."""
    meta = {"labels": list(LABELS), "created": datetime.now(UTC).isoformat(timespec="seconds"), **metadata}
    (out_dir / "metadata.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")


def write_model_card(out_dir: Path, metadata: dict, report_text: str) -> None:
    """Write MODEL_CARD.md from the metadata: sources with their credits and licences, and the report."""
    lines = []
    for source in metadata.get("sources", []):
        credit, licence = SOURCE_CREDITS.get(source["name"], ("user-supplied file", "see its origin"))
        lines.append(f"- `{source['name']}`: {source['rows']:,} rows, sha256 `{source['sha256'][:16]}…` — "
                     f"{credit}; licence: {licence}")
    sources = "\n".join(lines) + (f"\n\n{note}" if (note := replay_note(metadata)) else "")
    timing = metadata.get("training", {})
    training = "\n".join(f"- {k}: {v}" for k, v in timing.items() if k not in ("stages", "recipe"))
    if "stages" in timing:
        training = "The last stage:\n" + training
    if "recipe" in timing:
        training += f"\n\nReproduced by one command: `toxmod train --recipe {timing['recipe']}`. Its stages:\n"
    for stage in timing.get("stages", []):
        best = f", weights of step {stage['best_step']:,} kept" if stage.get("best_step") != stage["steps"] else ""
        training += (f"\n{stage['stage']}. {stage['steps']:,} steps, {stage['seconds'] / 60:.1f} min{best}: "
                     f"{stage.get('note', '')}")
    observed = metadata.get("failure_modes") or []
    failure_modes = "".join(f"- {line}\n" for line in observed)
    shortcuts = "".join(f"- {line}\n" for line in metadata.get("shortcuts") or []) or "- (none recorded)\n"
    languages = list(metadata.get("languages") or ["en"])
    multilingual = languages != ["en"]
    card = CARD_TEMPLATE.format(
        audience=f"Discord servers chatting in {language_names(languages)}" if multilingual
        else "English-speaking Discord servers",
        language_note=("toxmod routes a message to this model only in a language it names (`languages` in "
                       "metadata.json); each has its own `toxic` line where its validation posts asked for one "
                       "(`language_thresholds`).\n" if multilingual else ""),
        language_names=language_names(languages),
        failure_modes=failure_modes,
        shortcuts=shortcuts,
        version=metadata["version"],
        base=metadata.get("base_model", "all-MiniLM-L6-v2"),
        labels=", ".join(LABELS),
        sources=sources or "- (none recorded)",
        training=training or "- (none recorded)",
        report=report_text,
    )
    (out_dir / "MODEL_CARD.md").write_text(card)
