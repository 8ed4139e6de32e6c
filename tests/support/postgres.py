"""A throwaway PostgreSQL server for the tests: its own cluster in a temporary directory, on a free local
port, started at the first test that needs it and stopped when the run ends.

It uses Debian's `postgresql` package (`make test` installs it where it is missing and it can). As root it
runs the server as the package's `postgres` user, since PostgreSQL refuses to run as root. Set
`TOXMOD_TEST_POSTGRES_URL` (an admin URL, `postgresql+psycopg://user@host:port/postgres`) to use a server
of your own instead. Each test gets a new, empty database of its own.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

ADMIN_URL_ENV = "TOXMOD_TEST_POSTGRES_URL"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL here: the reason, in one line, for the skip message."""


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        initdb = shutil.which("initdb")
        if initdb is None:
            raise PostgresUnavailable("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        return Path(initdb).resolve().parent
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One server, and the databases the tests made on it."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._dir: Path | None = None
        self._bin: Path | None = None
        self._user_prefix: list[str] = []
        url = os.environ.get(ADMIN_URL_ENV)
        if url:
            self.admin_url = url
        else:
            self.admin_url = self._start()
        self._admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", pool_size=1)

    @property
    def data_dir(self) -> Path | None:
        """The cluster's data directory, for tests that read its files; None for a server of your own."""
        return None if self._dir is None else self._dir / "data"

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._user_prefix, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()[-300:]}")

    def _start(self) -> str:
        self._bin = _binaries()
        self._dir = Path(tempfile.mkdtemp(prefix="toxmod-pg-"))
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root without runuser: cannot start PostgreSQL as another user")
            shutil.chown(self._dir, "postgres")
            self._user_prefix = ["runuser", "-u", "postgres", "--"]
        data, port = self._dir / "data", free_port()
        self._run(str(self._bin / "initdb"), "-D", str(data), "-U", "toxmod", "--auth=trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        # durability off: a test cluster is thrown away, and fsyncs would dominate the run
        options = (f"-p {port} -k {self._dir} -c listen_addresses=127.0.0.1 -c max_connections=400 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self._bin / "pg_ctl"), "-D", str(data), "-l", str(self._dir / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")
        return f"postgresql+psycopg://toxmod@127.0.0.1:{port}/postgres"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = f"toxmod_test_{os.getpid()}_{next(self._counter)}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def stop(self) -> None:
        self._admin.dispose()
        if self._dir is None or self._bin is None:
            return
        subprocess.run([*self._user_prefix, str(self._bin / "pg_ctl"), "-D", str(self._dir / "data"), "-m", "immediate",
                        "-w", "stop"], capture_output=True)
        for _ in range(50):  # the server's files belong to it until it has exited
            if not (self._dir / "data" / "postmaster.pid").exists():
                break
            time.sleep(0.1)
        shutil.rmtree(self._dir, ignore_errors=True)
