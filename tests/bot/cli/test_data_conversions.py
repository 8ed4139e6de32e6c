"""`toxmod data fetch` for the corpora whose training file is made from their published files: the shipped
registry, its URLs pointed at a mirror in this process, then the real loaders on what fetch wrote.

The published files here are in each corpus's published layout, with rows written for these tests (never
copied from a corpus): HateXplain's one JSON object, Topical-Chat's conversation files, ToxiGen's prompt and
demonstration files, the Stormfront repository's archive. Each test expects the file its loader reads byte
for byte, so a change in what a conversion writes shows here.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.cli import main
from tests.support.mirror import Mirror
from training.corpora import Corpus, load_registry
from training.corpora.conversions import CONVERSIONS
from training.corpora.registry import REGISTRY_FILE
from training.sources import REGISTRY
from training.sources.abuse import load_hatexplain
from training.sources.hate import load_stormfront, load_toxigen_seeds
from training.sources.topical_chat import topical_messages


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No database or model here (this overrides the folder's fixture)."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


def mirrored(tmp_path: Path, mirror: Mirror) -> tuple[Path, dict[str, Corpus]]:
    """The shipped registry with every URL on the mirror (same paths), and its corpora by name."""
    text = REGISTRY_FILE.read_text(encoding="utf-8")
    for host in ("https://raw.githubusercontent.com", "https://github.com"):
        text = text.replace(f'"{host}/', f'"{mirror.url}/')
    path = tmp_path / "corpora.toml"
    path.write_text(text, encoding="utf-8")
    return path, {corpus.name: corpus for corpus in load_registry(path)}


def serve(mirror: Mirror, corpus: Corpus, contents: dict[str, bytes]) -> None:
    """Put each download of ``corpus`` on the mirror, by the path it lands at in the corpus folder."""
    for file in corpus.files:
        mirror.files[urlsplit(file.url).path] = contents[file.dest]


def fetch(reg: Path, data: Path, *names: str) -> int:
    return main(["data", "fetch", "--registry", str(reg), "--dir", str(data), "-q", "--trust-unpinned",
                 "--only", *names])


def annotators(*labels: str) -> list[dict[str, object]]:
    return [{"label": label, "annotator_id": i, "target": ["None"]} for i, label in enumerate(labels, 1)]


def test_hatexplain_takes_each_posts_majority_label(tmp_path: Path, mirror: Mirror) -> None:
    dataset = {
        "101_gab": {"post_id": "101_gab", "annotators": annotators("hatespeech", "hatespeech", "offensive"),
                    "rationales": [], "post_tokens": ["those", "<user>", "folk", "ruin", "everything"]},
        "102_twitter": {"post_id": "102_twitter", "annotators": annotators("normal", "normal", "normal"),
                        "rationales": [], "post_tokens": ["see", "you", "at\tthe", "match", ""]},
        "103_twitter": {"post_id": "103_twitter", "annotators": annotators("hatespeech", "offensive", "normal"),
                        "rationales": [], "post_tokens": ["nobody", "agrees", "on", "this", "one"]},
        "104_gab": {"post_id": "104_gab", "annotators": annotators("offensive", "normal", "offensive"),
                    "rationales": [], "post_tokens": ["what", "a", '"', "clown", '"']},
        "105_gab": {"post_id": "105_gab", "annotators": annotators("normal", "normal", "offensive"),
                    "rationales": [], "post_tokens": ["held", "out", "for", "testing"]},
    }
    divisions = {"train": ["101_gab", "102_twitter", "103_twitter"], "val": ["104_gab"], "test": ["105_gab"]}
    reg, corpora = mirrored(tmp_path, mirror)
    serve(mirror, corpora["hatexplain"], {"published/dataset.json": json.dumps(dataset).encode(),
                                          "published/post_id_divisions.json": json.dumps(divisions).encode()})
    assert fetch(reg, tmp_path / "data", "hatexplain") == 0
    posts = tmp_path / "data" / "hatexplain" / "posts.tsv"
    assert posts.read_text(encoding="utf-8") == (
        "label\ttext\nhatespeech\tthose <user> folk ruin everything\nnormal\tsee you at the match\n"
        'offensive\twhat a " clown "\n')  # left out: the post its annotators split three ways, the test split
    df = load_hatexplain(posts)
    assert list(df["text"]) == ["those <user> folk ruin everything", "see you at the match", 'what a " clown "']
    assert list(df["identity_hate"][:2]) == [1.0, 0.0] and df["toxic"].iloc[2] == 1.0


def conversation(*messages: str) -> dict[str, object]:
    return {"article_url": "https://example.org/a", "config": "A", "conversation_rating": {},
            "content": [{"message": m, "agent": f"agent_{i % 2 + 1}", "sentiment": "Neutral",
                         "knowledge_source": ["FS1"], "turn_rating": "Good"} for i, m in enumerate(messages)]}


def test_topical_chat_is_one_row_per_message_as_published(tmp_path: Path, mirror: Mirror,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    files = {
        "valid_freq.json": {"t_aaa": conversation("Do you follow the cricket?", "Yes, a little.  Mostly on radio. "),
                            "t_bbb": conversation('My aunt says "the garden\nis her gym"')},
        "valid_rare.json": {"t_ccc": conversation("Have you been to Lisbon?")},
        "test_freq.json": {"t_ddd": conversation("I baked bread, it came out flat.", "Try a warmer spot to rise.")},
    }
    reg, corpora = mirrored(tmp_path, mirror)
    serve(mirror, corpora["topical_chat"],
          {f"published/conversations/{name}": json.dumps(body).encode() for name, body in files.items()})
    assert fetch(reg, tmp_path / "data", "topical_chat") == 0
    assert "6 rows converted from the published files" in capsys.readouterr().out
    table = tmp_path / "data" / "topical_chat" / "topical_chat.csv"
    assert table.read_bytes() == (
        b"file,conversation_id,turn,agent,message\r\n"
        b'valid_freq,t_aaa,0,agent_1,Do you follow the cricket?\r\n'
        b'valid_freq,t_aaa,1,agent_2,"Yes, a little.  Mostly on radio. "\r\n'
        b'valid_freq,t_bbb,0,agent_1,"My aunt says ""the garden\nis her gym"""\r\n'
        b"valid_rare,t_ccc,0,agent_1,Have you been to Lisbon?\r\n"
        b'test_freq,t_ddd,0,agent_1,"I baked bread, it came out flat."\r\n'
        b"test_freq,t_ddd,1,agent_2,Try a warmer spot to rise.\r\n")
    messages = topical_messages(table, "train") + topical_messages(table, "heldout")
    assert len(messages) == 6 and "Yes, a little.  Mostly on radio." in messages

    requests = len(mirror.requests)
    assert fetch(reg, tmp_path / "data", "topical_chat") == 0  # converted: present, nothing downloaded
    assert "topical_chat: present" in capsys.readouterr().out and len(mirror.requests) == requests


def toxigen_file(name: str) -> bytes:
    """A seed file as the authors write it: a prompt file joins each prompt's statements with a written-out
    backslash-n and dash, a demonstration file has one statement a line."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".txt")
    if name.startswith("prompts/"):
        return f"- {stem} first\\n- {stem} second\\n-\n- {stem} second\\n- {stem} first\\n-\n".encode()
    return f"hate_asian_1k first\n{stem} own line \n".encode()  # its first line repeats a prompt's


def test_toxigen_keeps_each_statement_once_with_label_and_group_from_the_file_name(tmp_path: Path,
                                                                                  mirror: Mirror) -> None:
    reg, corpora = mirrored(tmp_path, mirror)
    contents = {f.dest: toxigen_file(f.dest.removeprefix("published/")) for f in corpora["toxigen"].files}
    contents["published/prompts/hate_asian_1k.txt"] = (
        b"- hate_asian_1k first\\n- a statement whose file lacked its last line break-\n"
        b"- hate_asian_1k first\\n-\n- hate_asian_1k second \\n-\n")
    contents["published/demonstrations/religion/hate_muslim.txt"] = b"hate_muslim_1k first\nhate_muslim_1k second\n"
    serve(mirror, corpora["toxigen"], contents)
    assert fetch(reg, tmp_path / "data", "toxigen") == 0
    table = tmp_path / "data" / "toxigen_seeds" / "toxigen_seeds.csv"
    lines = table.read_text(encoding="utf-8").splitlines()
    assert lines[:5] == [
        "text,label,group,file", "hate_asian_1k first,hate,asian,hate_asian_1k.txt",
        '"a statement whose file lacked its last line break-', '- hate_asian_1k first",hate,asian,hate_asian_1k.txt',
        "hate_asian_1k second,hate,asian,hate_asian_1k.txt"]
    df = load_toxigen_seeds(table)
    rows = dict(zip(df["text"], zip(df["toxic"], df["identity_hate"], strict=True), strict=True))
    assert rows["neutral_lgbtq_1k second"] == (0.0, 0.0) and rows["hate_bisexual_1k first"] == (1.0, 1.0)
    assert rows["hate_mental_disability_sentences own line"] == (1.0, 1.0)  # stripped, group from the file name
    # every statement once: 2 of each of 30 prompt files (3 of hate_asian_1k's), then 1 of each of 29
    # demonstration files but hate_muslim.txt, whose lines the prompts hold already
    assert len(df) == len(rows) == 29 * 2 + 3 + 28
    texts = list(df["text"])  # prompt files first, by name, whichever commit the registry takes each at
    assert texts.index("hate_bisexual_1k first") < texts.index("hate_black_1k first")
    assert texts.index("neutral_women_1k second") < texts.index("hate_mental_disability_sentences own line")


def stormfront_archive() -> bytes:
    top = "hate-speech-dataset-fbee2b97d6769951bdb0f7db7cf6c206b54d71c5"
    sentences = {"100_1": "The meeting is on Friday , bring a friend .\n", "100_2": "Those people ruin every town .",
                 "101_1": " As I said before , it depends .\n", "102_1": "I do n't know what to make of it ."}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(f"{top}/README.md", "# Hate speech dataset\n")
        zf.writestr(f"{top}/annotations_metadata.csv",
                    "file_id,user_id,subforum_id,num_contexts,label\n100_1,7,1346,0,noHate\n100_2,7,1346,1,hate\n"
                    "101_1,8,1345,2,relation\n103_1,9,1345,0,noHate\n102_1,8,1345,0,idk/skip\n")
        for file_id, text in sentences.items():
            zf.writestr(f"{top}/all_files/{file_id}.txt", text)
        zf.writestr(f"{top}/sampled_train/100_2.txt", sentences["100_2"])
    return buffer.getvalue()


def test_stormfront_joins_each_annotation_to_its_sentence_file(tmp_path: Path, mirror: Mirror) -> None:
    reg, corpora = mirrored(tmp_path, mirror)
    serve(mirror, corpora["stormfront"], {"published/hate-speech-dataset.zip": stormfront_archive()})
    assert fetch(reg, tmp_path / "data", "stormfront") == 0
    table = tmp_path / "data" / "stormfront" / "stormfront_sentences.csv"
    assert table.read_text(encoding="utf-8") == (  # 103_1 has no sentence file, so no row
        "file_id,user_id,subforum_id,num_contexts,label,text\n"
        '100_1,7,1346,0,noHate,"The meeting is on Friday , bring a friend ."\n'
        "100_2,7,1346,1,hate,Those people ruin every town .\n"
        '101_1,8,1345,2,relation,"As I said before , it depends ."\n'
        "102_1,8,1345,0,idk/skip,I do n't know what to make of it .\n")
    df = load_stormfront(table)
    assert list(df["identity_hate"][:2]) == [0.0, 1.0] and df["toxic"][2:].isna().all()


def test_a_conversion_that_fails_leaves_no_training_file_and_keeps_the_download(
        tmp_path: Path, mirror: Mirror, capsys: pytest.CaptureFixture[str]) -> None:
    reg, corpora = mirrored(tmp_path, mirror)
    serve(mirror, corpora["hatexplain"], {"published/dataset.json": b'{"1_gab": {"post_tokens": ["hi"]}}',
                                          "published/post_id_divisions.json": b'{"test": []}'})
    assert fetch(reg, tmp_path / "data", "hatexplain") == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "post 1_gab is not in HateXplain's layout" in err[0]
    folder = tmp_path / "data" / "hatexplain"
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["dataset.json", "post_id_divisions.json"]
    assert fetch(reg, tmp_path / "data", "hatexplain") == 1  # tried again, from the downloads in place
    assert len(mirror.requests) == 2


def test_a_registry_convert_must_name_a_conversion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = tmp_path / "corpora.toml"
    reg.write_text('[[corpus]]\nname = "demo"\nfolder = "demo"\ntitle = "t"\nlicence = "l"\nhomepage = "h"\n'
                   'citation = "c"\nsize = "s"\nconvert = "flatten"\n\n[[corpus.files]]\n'
                   'url = "https://example.org/a.json"\ndest = "a.json"\n')
    assert main(["data", "fetch", "--registry", str(reg), "--dir", str(tmp_path / "data")]) == 2
    assert "convert names a conversion of the files fetched" in capsys.readouterr().err


def test_each_conversion_writes_the_file_its_training_source_reads() -> None:
    converted = [corpus for corpus in load_registry() if corpus.convert]
    assert sorted(corpus.name for corpus in converted) == sorted(CONVERSIONS)
    for corpus in converted:
        (source,) = corpus.sources
        assert REGISTRY[source].relpath == f"{corpus.folder}/{CONVERSIONS[corpus.convert].output}"


def test_a_published_file_in_another_layout_is_refused_in_one_line(tmp_path: Path, mirror: Mirror,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    reg, corpora = mirrored(tmp_path, mirror)
    serve(mirror, corpora["stormfront"], {"published/hate-speech-dataset.zip": b"<html>not found</html>"})
    serve(mirror, corpora["topical_chat"], {f.dest: b"\xff not JSON" for f in corpora["topical_chat"].files})
    assert fetch(reg, tmp_path / "data", "stormfront", "topical_chat") == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("toxmod: topical_chat: valid_freq.json is not JSON")
    assert err[1].startswith("toxmod: stormfront: hate-speech-dataset.zip is not a zip archive")
    assert not list((tmp_path / "data").rglob("*.csv*"))
