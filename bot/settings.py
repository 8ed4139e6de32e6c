"""All configuration in one validated object, read from the environment (and a `.env` file) with keyword
overrides.

Every setting is documented in `.env.example`; the field name upper-cased is its variable name. Values
are parsed by the field's type and checked against its limits when the object is built (from the
environment, from overrides, or by `dataclasses.replace`), and a bad one fails with a message that names
the variable, before anything starts.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import ipaddress
import math
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# the forward-pass engines a model folder can feed (bot/scoring/engines.py); named here so a bad
# SCORE_ENGINE is refused with the other settings, before anything loads
ENGINE_NAMES = ("torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8")


class SettingsError(ValueError):
    """A setting has a value toxmod cannot use; the message names the variable."""


def check_engine(name: str | None, *, named: str = "SCORE_ENGINE") -> None:
    """Refuse an engine name that is not one of ENGINE_NAMES (None pins none: the fastest measured serves).

    The one check of an engine name, for the setting and for `ToxicityModel(engine=...)` alike; `named` is
    what the message calls the value.
    """
    if name is not None and name not in ENGINE_NAMES:
        raise SettingsError(f"{named} must be one of {', '.join(ENGINE_NAMES)} or empty, got {name!r}")


def _setting(default: Any, *, minimum: float | None = None, maximum: float | None = None) -> Any:
    return dataclasses.field(default=default, metadata={"min": minimum, "max": maximum})


def default_data_dir(project: Path = PROJECT_ROOT) -> Path:
    """DATA_DIR when it is not set: the project's data/, where `toxmod data fetch` puts the corpora. A checkout
    that has no data/ but sits beside a ../shared/data folder (the layout before `toxmod data fetch` existed,
    and the default then) keeps reading that."""
    own, beside = project / "data", project.parent / "shared" / "data"
    return beside if not own.exists() and beside.is_dir() else own


@dataclass(frozen=True)
class Settings:
    """Every setting toxmod reads, from the environment and .env (see .env.example); checked as loaded."""

    discord_token: str = ""
    dev_guild_id: int | None = None
    database_url: str = "sqlite:///toxmod.db"
    models_dir: Path = PROJECT_ROOT / "models"
    model_dir: Path | None = None  # None: the model that models/current names
    # the model for languages the main one does not read; None: the one `models/multilingual` names, if any
    multilingual_model_dir: Path | None = None
    multilingual: bool = True  # false: read only what the main model reads (saves its memory)
    # the training corpora (docs/DATA.md): the project's data/, where `toxmod data fetch` puts them
    data_dir: Path = dataclasses.field(default_factory=default_data_dir)
    score_engine: str | None = None  # None: the fastest engine measured on this machine (bot/scoring/tuning.py)
    score_threads: int | None = _setting(None, minimum=1)
    score_batch_max: int = _setting(64, minimum=1)
    score_batch_wait_ms: float = _setting(2.0, minimum=0)
    score_max_length: int = _setting(128, minimum=8, maximum=512)
    score_cache_size: int = _setting(10_000, minimum=0)  # repeated messages answered from memory; 0: off
    tuning_cache: Path = Path.home() / ".cache" / "toxmod" / "engines.json"  # the measured engine choices
    bf16: bool | None = None  # None: whichever of fp32 / bf16 measures faster; true / false pins torch's precision
    log_level: str = "INFO"
    retention_days: int = _setting(90, minimum=1)
    retrain_threads: int = _setting(1, minimum=1)
    retrain_samples: int = _setting(20000, minimum=1)
    retrain_epochs: float = _setting(1.0, minimum=0.01)
    # comma-separated Discord user ids allowed to use the process-wide model controls; empty: the
    # application's owner(s) as Discord reports them
    owner_ids: str = ""
    report_limit_per_hour: int = _setting(5, minimum=1)  # reports one member may file per hour in a server
    catchup_max_messages: int = _setting(100, minimum=0)  # per channel, fetched after a restart or reconnect
    catchup_max_age_minutes: int = _setting(60, minimum=0)  # older missed messages are not fetched
    # sharding over several processes (they need one PostgreSQL): how many shards the bot has in all, and
    # which of them this process runs, comma-separated ("0,1"); empty SHARDS: all of them
    shard_count: int | None = _setting(None, minimum=1)
    shards: str = ""
    # `toxmod serve`: where it listens, who may call it, how often, how much
    api_host: str = "127.0.0.1"  # loopback only unless told otherwise (and then API_KEYS is required)
    api_port: int = _setting(8080, minimum=1, maximum=65535)
    # comma-separated API keys; an entry `sha256:<hex>` is a key stored hashed (`toxmod serve --hash-key`)
    api_keys: str = ""
    # per key, in messages: a request costs one per text it scores, more for long ones (bot/api/fairness.py)
    api_rate_limit: float = _setting(1.0, minimum=0.001)  # a second (Perspective's default: 1 request)
    api_rate_burst: int = _setting(60, minimum=1)  # at once after a quiet minute
    api_max_body_bytes: int = _setting(1_048_576, minimum=1024)  # per request
    api_max_texts: int = _setting(256, minimum=1)  # per /v1/score request
    api_cors_origins: str = ""  # comma-separated origins allowed to call the API from a browser; empty: none
    api_max_models: int = _setting(2, minimum=0)  # models besides the current one the playground may keep loaded
    # slow or idle clients: seconds to send a request's headers (from connecting) and its body (from the headers),
    # and how long a connection may sit idle between requests; then it is closed
    api_header_timeout: float = _setting(10.0, minimum=0.01)
    api_body_timeout: float = _setting(30.0, minimum=0.01)
    api_keepalive_timeout: float = _setting(15.0, minimum=0.01)
    # connections open at once; past it the longest-waiting one that is not being answered is closed
    api_max_connections: int = _setting(512, minimum=1)
    # requests with a missing or wrong key allowed per client address: a second on average, and at once
    api_auth_failure_rate: float = _setting(0.1, minimum=0.001)
    api_auth_failure_burst: int = _setting(10, minimum=1)
    # comma-separated addresses of reverse proxies whose X-Forwarded-For names the client; empty: none
    api_trusted_proxies: str = ""
    # the URL clients reach the API at (the discovery document's rootUrl); empty: the address a client connected to
    api_public_url: str = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and _optional(hints[f.name]):
                continue
            kind = _base(hints[f.name])
            if kind is Path and isinstance(value, str):
                object.__setattr__(self, f.name, Path(value))
            elif kind is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
            elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise SettingsError(f"{f.name.upper()} must be {_describe(kind)}, got {value!r}")
            if kind is float and not math.isfinite(value):  # nan passes every bound; inf waits forever
                raise SettingsError(f"{f.name.upper()} must be a finite number, got {value!r}")
            low, high = f.metadata.get("min"), f.metadata.get("max")
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"at least {low}" if high is None else f"between {low} and {high}"
                raise SettingsError(f"{f.name.upper()} must be {bounds}, got {value!r}")
        object.__setattr__(self, "database_url", with_postgres_driver(self.database_url))
        if any(not part.strip().isdigit() for part in self.owner_ids.split(",") if part.strip()):
            raise SettingsError(f"OWNER_IDS must be comma-separated Discord user ids, got {self.owner_ids!r}")
        self.shard_ids  # noqa: B018 -- validates SHARDS against SHARD_COUNT
        self.api_key_digests  # noqa: B018 -- validates API_KEYS
        self.trusted_proxies  # noqa: B018 -- validates API_TRUSTED_PROXIES
        if self.api_public_url and not self.api_public_url.startswith(("http://", "https://")):
            raise SettingsError(f"API_PUBLIC_URL must start with http:// or https://, got {self.api_public_url!r}")
        check_engine(self.score_engine)
        if self.log_level.upper() not in LOG_LEVELS:
            raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")

    @property
    def shard_ids(self) -> tuple[int, ...] | None:
        """The shards this process runs; None when the bot is not sharded (one process, one connection)."""
        parts = [part.strip() for part in self.shards.split(",") if part.strip()]
        if self.shard_count is None:
            if parts:
                raise SettingsError("SHARDS needs SHARD_COUNT (how many shards the bot has in all)")
            return None
        if any(not part.isdigit() for part in parts):
            raise SettingsError(f"SHARDS must be comma-separated shard numbers, got {self.shards!r}")
        ids = tuple(int(part) for part in parts) or tuple(range(self.shard_count))
        if any(i >= self.shard_count for i in ids) or len(set(ids)) != len(ids):
            raise SettingsError(f"SHARDS must be distinct numbers from 0 to {self.shard_count - 1} "
                                f"(SHARD_COUNT={self.shard_count}), got {self.shards!r}")
        return ids

    @functools.cached_property
    def api_key_digests(self) -> frozenset[str]:
        """The sha256 of every API key: keys given in the clear are hashed here and compared hashed."""
        digests = set()
        for entry in (part.strip() for part in self.api_keys.split(",")):
            if not entry:
                continue
            if entry.startswith("sha256:"):
                digest = entry.removeprefix("sha256:").lower()
                if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                    raise SettingsError("API_KEYS: an entry `sha256:...` must carry 64 hex digits")
                digests.add(digest)
            else:
                digests.add(hash_api_key(entry))
        return frozenset(digests)

    @functools.cached_property
    def trusted_proxies(self) -> frozenset[str]:
        """The addresses in API_TRUSTED_PROXIES, normalised as `ipaddress` writes them."""
        proxies = set()
        for entry in (part.strip() for part in self.api_trusted_proxies.split(",")):
            if not entry:
                continue
            try:
                proxies.add(str(ipaddress.ip_address(entry)))
            except ValueError:
                raise SettingsError(f"API_TRUSTED_PROXIES must be comma-separated IP addresses, "
                                    f"got {entry!r}") from None
        return frozenset(proxies)

    @property
    def owners(self) -> frozenset[int]:
        """The OWNER_IDS setting as Discord user ids (empty: the application's owner decides)."""
        return frozenset(int(part) for part in self.owner_ids.split(",") if part.strip())

    @classmethod
    def load(cls, env_file: str | os.PathLike[str] | None = None, **overrides: object) -> Settings:
        """Environment (after loading `.env`, which never overrides real variables) then overrides."""
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
        env_path = Path(env_file) if env_file else PROJECT_ROOT / ".env"
        load_dotenv(env_path, override=False)
        # a relative path in the settings is the project's, not the working directory's: `cd /tmp && toxmod
        # flags` must read the database the bot writes, not look for (or create) another one where it stands
        base = env_path.resolve().parent if env_path.is_file() else PROJECT_ROOT
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = os.environ.get(f.name.upper())
            if raw is not None:
                values[f.name] = _parse(f.name.upper(), raw, hints[f.name])
                if isinstance(values[f.name], Path) and not values[f.name].is_absolute():
                    values[f.name] = base / values[f.name]
        values["database_url"] = sqlite_url_under(values.get("database_url", cls.database_url), base)
        values.update(overrides)  # a command's flags: typed where the user stands, so relative to it
        return cls(**values)


def sqlite_url_under(url: str, base: Path) -> str:
    """A SQLite URL naming a relative file, made to name that file under `base`; any other URL unchanged: a
    server's, an absolute path, no file at all (`sqlite://`, `:memory:`), or a `file:` URI, which only
    SQLite's own parser reads."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme.strip().lower().partition("+")[0] != "sqlite":
        return url
    name, query_sep, query = rest.partition("?")
    if not name or name == ":memory:" or name.startswith("file:") or Path(name).is_absolute():
        return url
    path = Path(name).expanduser()
    return f"{scheme}:///{path if path.is_absolute() else base / path}{query_sep}{query}"


def with_postgres_driver(url: str) -> str:
    """A PostgreSQL URL as most hosts print it (`postgres://`, `postgresql://`) made to name the driver toxmod
    installs: SQLAlchemy knows no `postgres` scheme, and reads a plain `postgresql` as psycopg2."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.strip().lower() in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return url


def hash_api_key(key: str) -> str:
    """The digest of an API key as API_KEYS stores it (sha256, hex), so the keys themselves are never kept."""
    # surrogatepass: a header that is not UTF-8 arrives with its bytes as surrogates; such a key is then compared
    # like any other instead of failing to encode
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _optional(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) and type(None) in hint.__args__


def _base(hint: Any) -> type:
    if isinstance(hint, types.UnionType):
        return next(arg for arg in hint.__args__ if arg is not type(None))
    return hint


def _describe(kind: type) -> str:
    return {int: "a whole number", float: "a number", bool: "true, false or auto", Path: "a path",
            str: "text"}.get(kind, kind.__name__)


def _parse(name: str, raw: str, hint: Any) -> object:
    """One environment variable by its field's type; empty means "not set" for optional settings."""
    text = raw.strip()
    if _optional(hint) and text in ("", "auto"):
        return None
    kind = _base(hint)
    if kind is bool:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be {_describe(kind)}, got {raw!r}")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise SettingsError(f"{name} must be {_describe(kind)}, got {raw!r}") from None
    if kind is Path:
        return Path(text).expanduser()
    return raw
