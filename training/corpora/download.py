"""One URL into a ``.part`` file, resumed where an earlier try stopped, with a progress bar.

A download that stops midway (the connection dropped, Ctrl-C) leaves its ``.part`` file; the next try asks
the server for the rest with an HTTP Range request and appends it, or starts again where the server ignores
the range. Nothing here decides whether the bytes are right: the caller checks the sha256 of the whole file.
"""

from __future__ import annotations

import hashlib
import http.client
import re
from functools import partial
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from tqdm import tqdm

CHUNK = 1 << 16
TIMEOUT_S = 60.0
# what a Git LFS pointer starts with: the repository stores the file elsewhere, and the raw URL names the pointer
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


class FetchError(Exception):
    """A corpus could not be fetched: the message says why in one line, and what to do where there is a fix."""


class Interrupted(FetchError):
    """The download stopped midway; its ``.part`` file is kept, and the same command resumes it."""


def sha256_of(path: Path) -> str:
    """The file's sha256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(partial(f.read, 1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, part: Path, *, progress: bool = True, timeout: float = TIMEOUT_S) -> None:
    """Fetch ``url`` into ``part``, continuing from what ``part`` already holds where the server allows."""
    if not url.startswith(("https://", "http://")):
        raise FetchError(f"{url} is not an http(s) URL")
    part.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "toxmod-data-fetch"} | ({"Range": f"bytes={start}-"} if start else {})
    try:
        # the scheme is checked above: http(s) only, never file: or ftp:
        response = urlopen(Request(url, headers=headers), timeout=timeout)  # noqa: S310
    except HTTPError as exc:
        if exc.code == 416 and start:  # the part holds all there is (or more): start again from nothing
            part.unlink()
            return download(url, part, progress=progress, timeout=timeout)
        raise FetchError(f"{url} answered {exc.code} {exc.reason}") from None
    except (URLError, OSError, http.client.HTTPException) as exc:
        raise FetchError(f"cannot download {url}: {getattr(exc, 'reason', exc)}") from None
    with response:
        offset = _resume_offset(response, start)
        if response.headers.get_content_type() == "text/html" and not url.endswith((".html", ".htm")):
            raise FetchError(f"{url} answered with a web page, not the file (moved, or behind a login?)")
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        _copy(response, part, offset, total, url, progress)
    with part.open("rb") as f:
        if f.read(len(LFS_POINTER)) == LFS_POINTER:
            part.unlink()
            raise FetchError(f"{url} is a Git LFS pointer, not the file: the registry should name the LFS download")
    return None


def _resume_offset(response: http.client.HTTPResponse, start: int) -> int:
    """Where the body goes in the part file: after what it holds when the server sent the range asked for,
    at the beginning when it sent the whole file."""
    if not start or response.status != 206:
        return 0
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None or int(match.group(1)) != start:
        raise FetchError(f"{response.url} answered a range other than the one asked for")
    return start


def _copy(response: http.client.HTTPResponse, part: Path, offset: int, total: int | None, url: str,
          progress: bool) -> None:
    """The body into ``part`` from ``offset``; a body cut short raises Interrupted, with the part kept."""
    got = offset
    name = url.rsplit("/", 1)[-1][:40]
    with part.open("r+b" if offset else "wb") as out, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                                           unit_divisor=1024, desc=name, leave=False,
                                                           disable=None if progress else True) as bar:
        out.seek(offset)
        out.truncate()
        try:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as exc:
            of = f" of {total:,}" if total else ""
            raise Interrupted(f"the download of {url} stopped after {got:,}{of} bytes ({type(exc).__name__}); "
                              f"run the same command again to resume it from {part}") from None
    if total is not None and got < total:  # a server that closed early without the reader noticing
        raise Interrupted(f"the download of {url} stopped after {got:,} of {total:,} bytes; run the same "
                          f"command again to resume it from {part}")
