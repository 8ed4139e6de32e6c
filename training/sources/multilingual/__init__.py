"""The fourth-wave corpora: offensive and hateful posts in eleven languages other than English.

Each corpus annotates something narrower than the six labels, and differently from the next (a German
"insult", a Korean "hate", a Polish moderator's ban); the mapping into the six labels and the reasons for
it are written down in training/LABEL_MAPPING.md, section "Fourth wave", change both together.

The adapters are grouped by the kind of text they read: ``tweets``, ``comments`` (comments and forum
posts) and ``paraphrases``; what every one of them does to its texts first (placeholders, HTML entities,
repeats) is in ``text``. This module is the registry of them all, under the names recipes use.
"""

from __future__ import annotations

from training.sources._common import Source
from training.sources.multilingual.comments import load_ban_pl, load_cold, load_japanese_toxic, load_korean_hate
from training.sources.multilingual.paraphrases import load_russe_detox
from training.sources.multilingual.tweets import (
    load_germeval2018,
    load_id_abusive,
    load_mlma_ar,
    load_mlma_fr,
    load_offenseval_ar,
    load_offenseval_tr,
    load_told_br,
)

MULTILINGUAL_SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("germeval2018", "multilingual/germeval2018/germeval2018.training.txt", load_germeval2018,
               "German tweets (GermEval 2018): abuse, insult, profanity", "de"),
        Source("told_br", "multilingual/told_br/ToLD-BR.csv", load_told_br,
               "Brazilian Portuguese tweets (ToLD-Br): votes for insult, obscene, four identity categories", "pt"),
        Source("cold", "multilingual/cold", load_cold,
               "Chinese comments on race, gender and region (COLD): offensive/safe", "zh"),
        Source("ban_pl", "multilingual/ban_pl", load_ban_pl,
               "Polish Wykop posts banned by moderators (BAN-PL) + hate speech re-annotation (HATE-WAR-PL); "
               "authors ask for research use, operational use only with filtering and oversight", "pl"),
        Source("korean_hate", "multilingual/korean_hate_speech/labeled/train.tsv", load_korean_hate,
               "Korean entertainment-news comments (BEEP!): hate/offensive/none, gender/other bias", "ko"),
        Source("mlma_fr", "multilingual/mlma/fr_dataset.csv", load_mlma_fr,
               "French tweets (MLMA): hostility types, target group", "fr"),
        Source("mlma_ar", "multilingual/mlma/ar_dataset.csv", load_mlma_ar,
               "Arabic tweets (MLMA): hostility types, target group", "ar"),
        Source("offenseval_tr", "multilingual/offenseval2020/tr/offenseval-tr-training-v1.tsv", load_offenseval_tr,
               "Turkish tweets (OffensEval 2020): OFF/NOT", "tr"),
        Source("offenseval_ar", "multilingual/offenseval2020/ar", load_offenseval_ar,
               "Arabic tweets (OffensEval 2020, train + dev): OFF/NOT", "ar"),
        Source("russe_detox", "multilingual/russe_detox", load_russe_detox,
               "Russian toxic sentences and their neutral paraphrases (RUSSE 2022 detox)", "ru"),
        Source("japanese_toxic", "multilingual/japanese_toxic/subset.csv", load_japanese_toxic,
               "short Japanese texts (Inspection AI): votes per toxicity level and category", "ja"),
        Source("id_abusive", "multilingual/id_abusive/re_dataset.csv", load_id_abusive,
               "Indonesian tweets (Ibrohim & Budi 2019): hate speech, abusive language; LICENCE CC BY-NC-SA 4.0, "
               "NON-COMMERCIAL ONLY: leave out of any model that ships", "id", non_commercial=True),
    )
}
