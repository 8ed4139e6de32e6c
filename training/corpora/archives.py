"""Named files out of a zip or tar archive, and nothing else: never a path the archive chose.

Each member the registry asks for is found by a pattern over the archive's member paths and written to the
destination the registry names, which is checked to lie inside the corpus folder. So a member called
``../../etc/passwd`` or an absolute path can at most be read into that destination; links, devices and
directories are never taken, and macOS's ``__MACOSX/`` and ``._name`` shadow files never match.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import IO

from training.corpora.download import FetchError
from training.corpora.registry import Member

Opener = Callable[[str], IO[bytes]]


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative``, refused if it resolves outside ``folder`` (a link on the way, or ``..``)."""
    target = (folder / relative).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise FetchError(f"{relative} would be written outside {folder}")
    return target


def extract(archive: Path, members: Iterable[Member], folder: Path) -> list[Path]:
    """Write each member the registry names to its destination under ``folder``; the paths written."""
    written = []
    with _open(archive) as (names, read):
        for member in members:
            matches = [n for n in names if fnmatchcase(n, member.pattern) and not _shadow(n)]
            if len(matches) != 1:
                found = "no member" if not matches else f"{len(matches)} members ({', '.join(matches[:3])})"
                raise FetchError(f"{archive.name}: {found} match {member.pattern!r}")
            target = inside(folder, member.dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(target.name + ".part")
            with read(matches[0]) as source, temporary.open("wb") as out:
                shutil.copyfileobj(source, out)
            temporary.replace(target)
            written.append(target)
    return written


def _shadow(name: str) -> bool:
    """A resource-fork copy macOS adds to archives, under the same name as the real file."""
    path = PurePosixPath(name)
    return path.parts[:1] == ("__MACOSX",) or path.name.startswith("._")


@contextmanager
def _open(archive: Path) -> Iterator[tuple[list[str], Opener]]:
    """The archive's regular files by name, and a way to read one."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            regular = [i.filename for i in zf.infolist() if not i.is_dir() and not _zip_link(i)]
            yield regular, lambda name: zf.open(name)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            files = {m.name: m for m in tf.getmembers() if m.isreg()}

            def read(name: str) -> IO[bytes]:
                stream = tf.extractfile(files[name])
                if stream is None:  # a regular member always has a stream; say so rather than crash
                    raise FetchError(f"{archive.name}: cannot read {name}")
                return stream

            yield list(files), read
    else:
        raise FetchError(f"{archive.name} is neither a zip nor a tar archive")


def _zip_link(info: zipfile.ZipInfo) -> bool:
    """A member zipped on Unix as a symbolic link (its mode is in the high 16 bits of external_attr)."""
    return stat.S_ISLNK(info.external_attr >> 16)
