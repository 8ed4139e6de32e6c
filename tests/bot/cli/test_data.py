"""`toxmod data list|fetch` against a mirror served from this process: the real download code, no network.

The mirror (tests/support/mirror.py) answers Range requests, can cut a response off halfway once, and logs
what it was asked; each test writes its own registry naming the mirror's URLs.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import default_data_dir
from tests.support.mirror import Mirror
from training.corpora import load_registry
from training.corpora.fetch import LOCK_NAME
from training.sources import REGISTRY


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No database or model here (this overrides the folder's fixture)."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


CSV = b"text,label\n" + b"".join(b"message number %d,0\n" % i for i in range(2000))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def registry(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "corpora.toml"
    path.write_text(body)
    return path


def corpus(name: str = "demo", *, folder: str = "", extra: str = "", files: str = "") -> str:
    return (f'[[corpus]]\nname = "{name}"\nfolder = "{folder or name}"\ntitle = "The {name} corpus"\n'
            f'licence = "CC-BY 4.0"\nhomepage = "https://example.org/{name}"\ncitation = "Someone, {name}, 2024"\n'
            f'size = "2,000 rows"\n'
            f"{extra}\n{files}\n")


def plain(url: str, dest: str, sha256: str = "") -> str:
    return f'[[corpus.files]]\nurl = "{url}"\nsha256 = "{sha256}"\ndest = "{dest}"\n'


def fetch(reg: Path, data: Path, *more: str) -> int:
    return main(["data", "fetch", "--registry", str(reg), "--dir", str(data), "-q", *more])


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_a_pinned_download_is_checked_and_put_in_place(tmp_path: Path, mirror: Mirror,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    mirror.files["/demo.csv"] = CSV
    reg = registry(tmp_path, corpus(files=plain(f"{mirror.url}/demo.csv", "sub/demo.csv", sha(CSV))))
    assert fetch(reg, tmp_path / "data") == 0
    assert (tmp_path / "data" / "demo" / "sub" / "demo.csv").read_bytes() == CSV
    assert files_under(tmp_path / "data") == ["demo/sub/demo.csv"]  # no .part left, no lock needed
    out = capsys.readouterr().out.splitlines()
    licence = next(i for i, line in enumerate(out) if "Licence: CC-BY 4.0" in line)
    assert licence < next(i for i, line in enumerate(out) if "/demo.csv" in line)  # the licence comes first
    assert fetch(reg, tmp_path / "data") == 0  # a second run finds it there and downloads nothing
    assert "demo: present" in capsys.readouterr().out and len(mirror.requests) == 1


def test_a_corrupted_download_is_refused_in_one_line_and_nothing_is_kept(
        tmp_path: Path, mirror: Mirror, capsys: pytest.CaptureFixture[str]) -> None:
    mirror.files["/demo.csv"] = CSV.replace(b"number 7,", b"number 8,")
    reg = registry(tmp_path, corpus(files=plain(f"{mirror.url}/demo.csv", "demo.csv", sha(CSV))))
    assert fetch(reg, tmp_path / "data") == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("toxmod: demo: ") and "refused, nothing kept" in err[0]
    assert sha(CSV) in err[0]
    assert files_under(tmp_path / "data") == []


def test_an_interrupted_download_resumes_from_its_part_file(tmp_path: Path, mirror: Mirror,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    mirror.files["/demo.csv"] = CSV
    mirror.cut_once.add("/demo.csv")
    reg = registry(tmp_path, corpus(files=plain(f"{mirror.url}/demo.csv", "demo.csv", sha(CSV))))
    assert fetch(reg, tmp_path / "data") == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "stopped after" in err[0] and "run the same command again to resume" in err[0]
    part = tmp_path / "data" / "demo" / "demo.csv.part"
    assert files_under(tmp_path / "data") == ["demo/demo.csv.part"] and part.stat().st_size == len(CSV) // 2
    assert fetch(reg, tmp_path / "data") == 0
    assert "resuming after" in capsys.readouterr().out
    assert (tmp_path / "data" / "demo" / "demo.csv").read_bytes() == CSV and not part.exists()
    assert mirror.requests == [("/demo.csv", None), ("/demo.csv", f"bytes={len(CSV) // 2}-")]


def test_a_server_that_ignores_the_range_gets_the_part_file_rewritten(tmp_path: Path, mirror: Mirror) -> None:
    mirror.files["/demo.csv"], mirror.ranges = CSV, False
    part = tmp_path / "data" / "demo" / "demo.csv.part"
    part.parent.mkdir(parents=True)
    leftover = b"left over from another try, not a prefix of the file"
    part.write_bytes(leftover)
    reg = registry(tmp_path, corpus(files=plain(f"{mirror.url}/demo.csv", "demo.csv", sha(CSV))))
    assert fetch(reg, tmp_path / "data") == 0
    assert (tmp_path / "data" / "demo" / "demo.csv").read_bytes() == CSV and not part.exists()
    assert mirror.requests == [("/demo.csv", f"bytes={len(leftover)}-")]  # asked for the rest, got the whole


def test_an_unpinned_file_needs_trust_then_its_checksum_is_recorded_and_held_to(
        tmp_path: Path, mirror: Mirror, capsys: pytest.CaptureFixture[str]) -> None:
    data, url = tmp_path / "data", f"{mirror.url}/demo.csv"
    mirror.files["/demo.csv"] = CSV
    reg = registry(tmp_path, corpus(files=plain(url, "demo.csv")))
    assert fetch(reg, data) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "no pinned sha256" in err[0] and "--trust-unpinned" in err[0]
    assert mirror.requests == [] and not (data / "demo").exists()

    assert fetch(reg, data, "--trust-unpinned") == 0
    assert f"sha256 {sha(CSV)}, now recorded in {data / LOCK_NAME}" in capsys.readouterr().out
    assert json.loads((data / LOCK_NAME).read_text())["files"][url]["sha256"] == sha(CSV)

    # the file is fetched again (a new machine, or it was deleted), and the server now sends other bytes
    (data / "demo" / "demo.csv").unlink()
    mirror.files["/demo.csv"] = CSV + b"one more row,1\n"
    assert fetch(reg, data) == 1  # no --trust-unpinned needed now: the lock pins it, and it does not match
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"not the recorded in {data / LOCK_NAME} {sha(CSV)}" in err[0]
    assert files_under(data) == [LOCK_NAME]


def test_a_corpus_that_needs_an_account_is_explained_in_one_line(tmp_path: Path, mirror: Mirror,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    account = 'account = "a Kaggle account"\nhow = "kaggle competitions download -c demo, then put train.csv in demo/"'
    reg = registry(tmp_path, corpus("kaggled", extra=account))
    assert fetch(reg, tmp_path / "data") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("kaggled: not fetched: needs a Kaggle account: kaggle competitions download -c demo, then "
                      "put train.csv in demo/")
    assert len(out) == 2 and out[1] == "not fetched: kaggled" and mirror.requests == []

    # put where the line says (here, where the training source `jigsaw` reads), it is present
    jigsaw = corpus("jigsaw", folder="jigsaw2018", extra=account)
    (tmp_path / "data" / "jigsaw2018").mkdir(parents=True)
    (tmp_path / "data" / "jigsaw2018" / "train.csv").write_bytes(CSV)
    assert fetch(registry(tmp_path, jigsaw), tmp_path / "data") == 0
    assert capsys.readouterr().out.splitlines()[0] == f"jigsaw: present in {tmp_path / 'data' / 'jigsaw2018'}"


def test_archive_members_are_taken_by_name_and_never_written_where_the_archive_says(
        tmp_path: Path, mirror: Mirror) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("release/a.csv", CSV)
        zf.writestr("__MACOSX/release/._a.csv", b"resource fork")
        zf.writestr("../../escape.csv", b"climbing out")
    mirror.files["/release.zip"] = buffer.getvalue()
    extract = ('extract = [{ member = "*a.csv", dest = "a.csv" }, '
               '{ member = "*escape.csv", dest = "kept/escape.csv" }]')
    files = f'[[corpus.files]]\nurl = "{mirror.url}/release.zip"\nsha256 = "{sha(buffer.getvalue())}"\n{extract}\n'
    data = tmp_path / "data"
    assert fetch(registry(tmp_path, corpus(files=files)), data) == 0
    assert files_under(tmp_path) == ["corpora.toml", "data/demo/a.csv", "data/demo/kept/escape.csv"]
    assert (data / "demo" / "a.csv").read_bytes() == CSV


def test_links_in_a_tar_are_never_followed(tmp_path: Path, mirror: Mirror,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        link = tarfile.TarInfo("release/dev.csv")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    mirror.files["/release.tgz"] = buffer.getvalue()
    files = (f'[[corpus.files]]\nurl = "{mirror.url}/release.tgz"\nsha256 = "{sha(buffer.getvalue())}"\n'
             'extract = [{ member = "*dev.csv", dest = "dev.csv" }]\n')
    assert fetch(registry(tmp_path, corpus(files=files)), tmp_path / "data") == 1
    assert "no member match '*dev.csv'" in capsys.readouterr().err
    assert not (tmp_path / "data" / "demo" / "dev.csv").exists()


@pytest.mark.parametrize("dest", ["../escape.csv", "/etc/escape.csv", "a/../../escape.csv"])
def test_a_registry_destination_outside_the_data_directory_is_refused(tmp_path: Path, mirror: Mirror, dest: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    reg = registry(tmp_path, corpus(files=plain(f"{mirror.url}/demo.csv", dest, sha(CSV))))
    assert fetch(reg, tmp_path / "data") == 2
    assert "must be a relative path inside the data directory" in capsys.readouterr().err
    assert mirror.requests == []


def test_list_says_which_sources_are_present(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"  # DATA_DIR
    (data / "davidson2017").mkdir(parents=True)
    (data / "davidson2017" / "labeled_data.csv").write_bytes(CSV)
    reg = registry(tmp_path, corpus("davidson", folder="davidson2017",
                                    files=plain("https://example.org/labeled_data.csv", "labeled_data.csv"))
                   + corpus("olid", files=plain("https://example.org/olid.tsv", "olid-training-v1.0.tsv")))
    assert main(["data", "list", "--registry", str(reg)]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_source = {line.split()[1]: line.split() for line in lines[:-1]}
    assert by_source["davidson"][:4] == ["+", "davidson", "en", "present"]
    assert by_source["olid"][:4] == ["-", "olid", "en", "absent"]
    assert by_source["contrast"][3:6] == ["present", "in", "this"]
    assert list(by_source) == list(REGISTRY)
    assert lines[-1].startswith(f"2 of {len(REGISTRY)} sources present under {data};")

    assert main(["data", "list", "--registry", str(reg), "--jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["source"] for row in rows] == list(REGISTRY)
    davidson = next(row for row in rows if row["source"] == "davidson")
    assert davidson["present"] is True and davidson["bytes"] == len(CSV) and davidson["licence"] == "CC-BY 4.0"
    assert next(row for row in rows if row["source"] == "olid")["present"] is False
    assert next(row for row in rows if row["source"] == "contrast")["access"] == "repository"


def test_the_shipped_registry_covers_every_training_source_with_pinned_urls() -> None:
    corpora = load_registry()
    covered = [source for corpus in corpora for source in corpus.sources]
    assert sorted(covered) == sorted(set(REGISTRY) - {"contrast"})
    for corpus in corpora:
        assert corpus.access == "public" or not corpus.files
        for file in corpus.files:
            if "raw.githubusercontent.com" in file.url:  # a repository's file: at a commit, not a branch
                assert re.search(r"/[0-9a-f]{40}/", file.url), file.url
            if "github.com" in file.url and "/archive/" in file.url:  # a repository's archive, likewise
                assert re.search(r"/archive/[0-9a-f]{40}\.", file.url), file.url


def test_data_dir_defaults_to_the_project_unless_only_the_old_shared_folder_exists(tmp_path: Path) -> None:
    project = tmp_path / "toxmod"
    project.mkdir()
    assert default_data_dir(project) == project / "data"
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert default_data_dir(project) == tmp_path / "shared" / "data"  # an existing setup keeps working
    (project / "data").mkdir()
    assert default_data_dir(project) == project / "data"  # once fetched into the project, that wins
