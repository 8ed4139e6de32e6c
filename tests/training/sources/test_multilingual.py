"""Fourth-wave adapters (corpora in other languages) on fixtures, read through the trainer's loading path.

The fixture rows are written for these tests in each corpus's published file format; none is copied from a
corpus. The mapping they check is argued in training/LABEL_MAPPING.md, section "Fourth wave".
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from bot.labels import LABELS
from tests.support.paths import SOURCE_FIXTURES
from tests.support.sources import by_text, expect, expect_clean
from training.config import TrainConfig
from training.dataset import prepare_data
from training.sources import (
    OPT_IN_SOURCES,
    REGISTRY,
    SOURCES,
    Source,
    language_of,
    load_sources,
    sources_for_languages,
)
from training.sources.multilingual.text import WEIBO_HANDLE, tidy, unescape_backslashes
from training.sources.multilingual.xlsx import read_xlsx

LANGUAGES = {
    "germeval2018": "de",
    "told_br": "pt",
    "cold": "zh",
    "ban_pl": "pl",
    "korean_hate": "ko",
    "mlma_fr": "fr",
    "mlma_ar": "ar",
    "offenseval_tr": "tr",
    "offenseval_ar": "ar",
    "russe_detox": "ru",
    "japanese_toxic": "ja",
    "id_abusive": "id",
}


def load(name: str) -> pd.DataFrame:
    """One source from the fixture data root, the way the trainer loads a source a recipe names."""
    frame, provenance = load_sources(SOURCE_FIXTURES, [name])
    assert [p["name"] for p in provenance] == [name]
    return frame


# -- The registry and the default selection ---------------------------------------------------------------
def test_default_selection_holds_no_source_in_another_language() -> None:
    assert all(source.language == "en" for source in SOURCES.values())
    assert not set(SOURCES) & set(OPT_IN_SOURCES)
    assert sources_for_languages(["en"]) == list(SOURCES)
    _, provenance = load_sources(SOURCE_FIXTURES, ubuntu_cap=3)
    assert [p["name"] for p in provenance] == list(SOURCES)


def test_a_run_that_names_no_sources_trains_on_the_default_selection_only() -> None:
    data = prepare_data(TrainConfig(data_dir=SOURCE_FIXTURES, ubuntu_cap=3))
    assert {p["name"] for p in data.provenance} == set(SOURCES)
    loaded = set(data.train["source"]) | set(data.val["source"])
    assert not loaded & set(OPT_IN_SOURCES)


def test_a_recipe_that_names_other_languages_loads_them() -> None:
    data = prepare_data(TrainConfig(data_dir=SOURCE_FIXTURES, sources=["germeval2018", "cold", "olid"]))
    assert [p["name"] for p in data.provenance] == ["germeval2018", "cold", "olid"]
    assert set(data.train["source"]) | set(data.val["source"]) == {"germeval2018", "cold", "olid"}
    with pytest.raises(ValueError, match="nope"):
        load_sources(SOURCE_FIXTURES, ["germeval2018", "nope"])


def test_every_opt_in_source_is_registered_with_its_language_and_mirrored_by_a_fixture() -> None:
    assert {name: source.language for name, source in OPT_IN_SOURCES.items()} == LANGUAGES
    assert list(REGISTRY) == [*SOURCES, *OPT_IN_SOURCES]
    for name, source in OPT_IN_SOURCES.items():
        assert language_of(name) == LANGUAGES[name]
        assert (SOURCE_FIXTURES / source.relpath).exists(), f"fixture layout does not mirror {source.relpath}"
    assert language_of("jigsaw") == "en"
    with pytest.raises(ValueError, match="nope"):
        language_of("nope")


def test_sources_per_language_and_the_non_commercial_licence() -> None:
    assert sources_for_languages(["ar"]) == ["mlma_ar", "offenseval_ar"]
    assert sources_for_languages(["de", "id"]) == ["germeval2018", "id_abusive"]
    assert sources_for_languages(["de", "id"], include_non_commercial=False) == ["germeval2018"]
    assert [name for name, s in REGISTRY.items() if s.non_commercial] == ["id_abusive"]
    assert "CC BY-NC-SA" in REGISTRY["id_abusive"].description


def test_a_source_language_must_be_an_iso_639_1_code() -> None:
    with pytest.raises(ValueError, match="ISO 639-1"):
        Source("x", "x.csv", lambda path: pd.DataFrame(), "x", language="deu")


@pytest.mark.parametrize("name", list(OPT_IN_SOURCES))
def test_every_adapter_returns_the_common_layout_without_repeats(name: str) -> None:
    df = load(name)
    assert list(df.columns) == ["text", "source", *LABELS]
    assert (df["source"] == name).all()
    assert all(isinstance(t, str) and t.strip() == t and t for t in df["text"])
    assert df["text"].is_unique
    values = df[list(LABELS)].to_numpy()
    assert values.dtype == "float64"
    assert set(pd.unique(values[~pd.isna(values)])) <= {0.0, 1.0}
    # none of these corpora marks threats or severity: never asserted for a toxic row
    toxic = df[df["toxic"] == 1.0]
    assert toxic["threat"].isna().all() and toxic["severe_toxic"].isna().all()


@pytest.mark.parametrize("name", list(OPT_IN_SOURCES))
def test_missing_path_raises_naming_it(name: str, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not-there"):
        OPT_IN_SOURCES[name].load(tmp_path / "not-there")


# -- One test per corpus ----------------------------------------------------------------------------------
def test_germeval_fine_classes_and_twitter_handles() -> None:
    df = load("germeval2018")
    # the repeated tweet is kept once; the row whose fine class contradicts its coarse class is dropped
    assert len(df) == 7
    rows = by_text(df)
    expect_clean(rows["@user Schöne Blumen hast du da!\nViel Spaß beim Gießen."])
    expect(rows["@user Du bist echt ein Vollpfosten."], toxic=1, insult=1)
    expect(rows["So ein Mist, schon wieder Regen & Stau."], toxic=1, obscene=1, insult=0, identity_hate=0)
    expect(rows["Diese Zeitung lügt doch jeden Tag, lauter Schreiberlinge ohne Anstand."], toxic=1)
    expect_clean(rows['"Zitat" am Anfang eines Tweets bleibt stehen'])  # read with quoting off
    expect_clean(rows[".@user Danke für die Info!"])
    expect_clean(rows["@user Guten Morgen zusammen"])  # three handles, one mention
    assert "Das passt nicht zusammen" not in rows


def test_told_br_majority_of_three_annotators_per_category() -> None:
    df = load("told_br")
    assert len(df) == 5
    rows = by_text(df)
    expect_clean(rows["que dia lindo hoje, bom dia a todos"])
    expect(rows["@user você é um bobão completo"], toxic=1, obscene=0, insult=1, identity_hate=0)
    # two votes for obscene, one (a minority) for insult; the link becomes the scorer's URL token
    expect(rows["que porra de trânsito URL"], toxic=1, obscene=1, identity_hate=0)
    # xenophobia by two annotators is identity hate
    expect(rows["esses gringos deviam voltar pra casa deles"], toxic=1, obscene=0, identity_hate=1)
    # GB18030 mojibake ("n茫o") is read back as the Portuguese it was
    expect_clean(rows["não gosto de segunda-feira"])
    # one annotator alone: dropped; copies of one text with different votes: dropped
    assert not any("besteira" in t for t in rows)
    assert "vai dormir" not in rows


def test_cold_offensive_or_safe_across_train_and_dev() -> None:
    df = load("cold")
    assert len(df) == 5  # the repeat across files kept once, the row without a label dropped
    rows = by_text(df)
    expect_clean(rows["我很喜欢四川的火锅，每次去都吃很多"])
    expect(rows["你这种人就是脑子有问题"], toxic=1)
    # a Weibo reply to a Chinese nickname, and an escaped carriage return written out as text
    expect_clean(rows["回@user 谢谢你的推荐\n明天去看看"])
    expect_clean(rows["这酸爽@_@"])  # an emoticon, not a mention
    expect(rows["说话真难听&没礼貌\n懒得理你"], toxic=1)


def test_ban_pl_moderation_decision_refined_by_hate_war_pl() -> None:
    df = load("ban_pl")
    assert len(df) == 7
    rows = by_text(df)
    # not removed by the moderators: not toxic, but swearing and rudeness are tolerated there, so unknown
    neutral = {"toxic": 0, "severe_toxic": 0, "threat": 0}
    expect(rows["Tytuł posta\n\n@user: dzięki za pomoc, działa idealnie"], **neutral)
    expect(rows["Zobacz tutaj URL fajny artykuł o [surname]"], **neutral)
    expect(rows["Organizacja c@@?@wa jak zwykle"], **neutral)  # the site's censoring is not a mention
    expect(rows["@user: ty głupku, nic nie rozumiesz"], toxic=1)
    # in both files: HATE-WAR-PL's hate speech label refines the ban
    expect(rows["Ci obcy z daleka niech wracają, nie chcemy ich tutaj"], toxic=1, identity_hate=1)
    # only in HATE-WAR-PL: added; war-related abuse is not identity hate
    expect(rows["Wojsko tamtych to banda tchórzy"], toxic=1, identity_hate=0)
    expect(rows["Oni wszyscy są gorsi od nas, cały ten naród"], toxic=1, identity_hate=1)
    # BAN-PL calls it neutral, HATE-WAR-PL hate speech: contradiction, dropped
    assert "Ten wpis był całkiem spokojny" not in rows


def test_korean_hate_level_and_bias() -> None:
    df = load("korean_hate")
    assert len(df) == 6  # the undefined hate level is dropped
    rows = by_text(df)
    expect_clean(rows["오늘 방송 정말 재미있었어요"])
    expect_clean(rows['"최고"라는 말밖에 안 나온다'])
    expect(rows["연기 진짜 못하네 발연기 그만해라"], toxic=1, identity_hate=0)  # no bias: aimed at a person
    expect(rows["여자가 무슨 운전을 한다고"], toxic=1, identity_hate=1)  # hate with gender bias
    expect(rows["저 동네 사람들은 다 게으르다"], toxic=1)  # "others" bias mixes groups with jobs and looks
    # biased but civil: nothing said about identity hate
    expect(rows["남자는 울면 안 되지"], toxic=0, severe_toxic=0, obscene=0, threat=0, insult=0)


def test_mlma_hostility_types_and_target_group() -> None:
    fr = by_text(load("mlma_fr"))
    assert len(fr) == 5  # "abusive_normal": the annotators split, dropped
    expect_clean(fr["@user bonne soirée à vous deux"])
    expect(fr["t'es vraiment un abruti toi URL"], toxic=1)
    expect(fr["ces migrants sont une plaie pour le pays… URL"], toxic=1, identity_hate=1)
    expect(fr["la gauche nous ruine encore"], toxic=1)  # hateful, but at a political camp
    expect(fr["c'est n'importe quoi ce match"], toxic=1)  # HTML entities unescaped
    assert "quel imbécile ce présentateur" not in fr
    ar = by_text(load("mlma_ar"))
    expect_clean(ar["@user صباح الخير يا أصدقاء"])
    expect(ar["انت غبي جدا URL"], toxic=1)


def test_offenseval_placeholders_and_quoting() -> None:
    tr = load("offenseval_tr")
    assert len(tr) == 4  # the tweet that is only "@USER URL" teaches nothing
    rows = by_text(tr)
    expect_clean(rows["@user günaydın, kolay gelsin"])
    expect_clean(rows['"Tırnakla başlayan bir tweet'])  # an open quote does not swallow the next rows
    expect(rows["@user sen tam bir salaksın"], toxic=1)
    expect_clean(rows["@user: bu maç çok sıkıcıydı URL"])  # retweet marker dropped, links collapsed
    ar = by_text(load("offenseval_ar"))  # training and dev files
    assert len(ar) == 3
    expect_clean(ar["@user صباح الخير\nيوم جميل"])
    expect(ar["انت غبي يا @user"], toxic=1)
    expect_clean(ar["الله يسعدك@user"])  # the placeholder glued to the word before it


def test_russe_detox_toxic_sentences_and_their_paraphrases() -> None:
    df = load("russe_detox")
    rows = by_text(df)
    toxic = [
        "ты дурак, ничего не понимаешь",
        "какая хрень опять по телеку",
        "что за бред\nвы пишете",  # a quoted cell holding a line break
        "ну ты и балбес, ничего не понимаешь",
        "заткнись уже, надоел",  # dev
        "вот болваны, а",  # test: toxic sentences only
    ]
    neutral = ["ты ничего не понимаешь", "ты не понимаешь сути", "что опять по телевизору", "что вы пишете",
               "помолчи, пожалуйста"]
    assert sorted(rows) == sorted(toxic + neutral)  # the paraphrase of two sentences is kept once
    for text in toxic:
        expect(rows[text], toxic=1)
    for text in neutral:
        expect_clean(rows[text])
    # a "paraphrase" repeating its toxic sentence stays toxic, never clean
    expect(rows["какая хрень опять по телеку"], toxic=1)


def test_japanese_votes_per_level_and_category() -> None:
    df = load("japanese_toxic")
    assert len(df) == 4  # split votes are dropped
    rows = by_text(df)
    expect_clean(rows["ありがとう、助かりました"])
    expect(rows["お前ほんとバカだな"], toxic=1, obscene=0, identity_hate=0)
    expect(rows["うんこうんこ"], toxic=1, obscene=1, identity_hate=0)
    expect(rows["あの国の人はみんな嫌い"], toxic=1, obscene=0)  # discrimination votes: not certain
    assert "微妙な発言" not in rows and "まあまあかな" not in rows


def test_id_abusive_survives_invalid_utf8_and_undoes_the_bytes_repr() -> None:
    df = load("id_abusive")
    assert len(df) == 6  # "USER URL" alone is dropped
    rows = by_text(df)
    expect_clean(rows["@user selamat pagi semua, semoga harimu menyenangkan 😄"])  # \xNN bytes decoded
    expect(rows["@user: dasar bodoh kamu\n\nlihat dulu baru ngomong"], toxic=1, identity_hate=0)  # abusive only
    expect(rows["@user kaum itu memang tidak tahu diri semua"], toxic=1, identity_hate=1)  # religion, race
    expect(rows["@user kamu jelek banget sih"], toxic=1)  # "physical": looks or disability, not certain
    # the line that is not valid UTF-8: the broken character is dropped, the rest kept
    expect_clean(rows["Pilkada aman dan damai  & tertib URL"])
    expect_clean(rows["@user itu namanya 'santai', bro"])  # a repr closed with a double quote
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for text in rows for ch in text)


# -- The helpers ------------------------------------------------------------------------------------------
def test_tidy_maps_placeholders_to_the_scorer_tokens() -> None:
    assert tidy("RT @USER: @USER @USER hi https://t.co/x URL") == "@user hi URL"
    assert tidy("cut short https:/…") == "cut short URL"
    assert tidy("mail me at someone@example.org") == "mail me at someone@example.org"
    assert tidy("@user , URL !") == ""
    assert tidy("回@小明 你好", mentions=WEIBO_HANDLE) == "回@user 你好"
    assert tidy("我的邮箱 abc@qq.com", mentions=WEIBO_HANDLE) == "我的邮箱 abc@qq.com"


def test_unescape_backslashes() -> None:
    written = r"ok \xf0\x9f\x98\x84 \ud83d\ude01 \u3000 a\nb \/ \\x41"
    assert unescape_backslashes(written) == "ok 😄 😁 \u3000 a\nb / \\x41"


def test_read_xlsx_shared_and_inline_strings_and_gaps(tmp_path: Path) -> None:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    book = tmp_path / "book.xlsx"
    with zipfile.ZipFile(book, "w") as z:
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
                                      '<sheet name="a" sheetId="1" r:id="r1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{pkg}">'
                                                 '<Relationship Id="r1" Target="/xl/worksheets/s.xml"/>'
                                                 "</Relationships>")
        z.writestr("xl/sharedStrings.xml", f'<sst xmlns="{main}"><si><t>name</t></si>'
                                           "<si><r><t>rich </t></r><r><t>text</t></r></si></sst>")
        z.writestr("xl/worksheets/s.xml", f'<worksheet xmlns="{main}"><sheetData>'
                                          '<row r="1"><c r="A1" t="s"><v>0</v></c>'
                                          '<c r="B1" t="inlineStr"><is><t>n</t></is></c></row>'
                                          '<row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2"><v>3</v></c></row>'
                                          '<row r="3"><c r="B3" t="b"><v>1</v></c></row>'
                                          "</sheetData></worksheet>")
    df = read_xlsx(book)
    assert list(df.columns) == ["name", "n"]
    assert df.to_dict("records") == [{"name": "rich text", "n": "3"}, {"name": "", "n": "1"}]


def test_fixture_rows_cover_every_label_state() -> None:
    """Across the fixtures each of toxic, obscene, insult and identity_hate is seen as 1, 0 and unknown."""
    frames = pd.concat([load(name) for name in OPT_IN_SOURCES], ignore_index=True)
    for label in ("toxic", "obscene", "insult", "identity_hate"):
        column = frames[label]
        assert (column == 1.0).any() and (column == 0.0).any(), label
        if label != "toxic":
            assert column.isna().any(), label
