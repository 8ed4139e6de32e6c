"""Command-line options generated from a settings dataclass, so each default and help text lives in one place.

The dataclass stays the single source of truth: an option's type comes from the field's type hint, its help
from `metadata["help"]`, its default from the field itself. Options not given on the command line are left
out of the constructor call rather than copied into argparse, so the dataclass fills them in and no default
is ever written twice. Field metadata understood here:

- ``help``: the option's help text (every command-line field has one)
- ``cli``: ``False`` keeps the field off the command line
- ``metavar``: the placeholder shown in usage
- ``separator``: a list field takes one argument split on this string instead of repeating the option
- ``minimum``: a dict field's values must be at least this

The generator lives in `training` so the settings and their description travel together; the command line
only calls it (training never imports the CLI).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")

_SCALARS: tuple[type, ...] = (str, int, float, Path)


class ArgumentSink(Protocol):
    """A parser or one of its argument groups."""

    def add_argument(self, *name_or_flags: str, **kwargs: Any) -> argparse.Action:
        """Add one option, as argparse's own method does."""


class OptionError(ValueError):
    """A value argparse accepted but the field cannot take; one line, for the caller to report its own way."""


def flag(name: str) -> str:
    """The command-line flag of a config field: `--` and the name with dashes."""
    return "--" + name.replace("_", "-")


def option_fields(cls: type, exclude: Collection[str] = ()) -> list[dataclasses.Field[Any]]:
    """The fields that are command-line options: `from_args` must read exactly what `add_options` added,
    or a same-named option of another dataclass on the same parser would leak in."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True) and f.name not in exclude]


def add_options(parser: ArgumentSink, cls: type, exclude: Collection[str] = (),
                caller_defaults: Mapping[str, str] | None = None) -> None:
    """Add one option per command-line field of `cls`.

    `caller_defaults` describes, for the help text, a default the caller fills in itself when the option is
    not given (e.g. a run directory named after the model), where the dataclass default does not apply.
    """
    hints = get_type_hints(cls)
    shown = caller_defaults or {}
    for f in option_fields(cls, exclude):
        if "help" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} is a command-line option without help text")
        hint = without_none(hints[f.name])
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": _help(f, shown.get(f.name))}
        if "metavar" in f.metadata:
            kwargs["metavar"] = f.metadata["metavar"]
        origin = get_origin(hint)
        if hint is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin is list:
            (item,) = get_args(hint)
            _check_scalar(cls, f.name, item)
            if "separator" in f.metadata:
                kwargs["type"] = _separated(item, f.metadata["separator"])
            else:
                kwargs.update(action="append", type=item)
        elif origin is dict:
            # kept as raw strings here: from_args parses them so a bad item fails in one line, not with usage
            kwargs.update(action="append", type=str)
            kwargs.setdefault("metavar", "NAME=VALUE")
        else:
            _check_scalar(cls, f.name, hint)
            kwargs["type"] = hint
        parser.add_argument(flag(f.name), **kwargs)


def from_args(cls: type[T], args: argparse.Namespace, exclude: Collection[str] = (), **given: Any) -> T:
    """Build `cls` from the options given on the command line; `given` values (decided by the caller) win."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in option_fields(cls, exclude):
        value = getattr(args, f.name, None)
        if value is None:
            continue
        hint = without_none(hints[f.name])
        if get_origin(hint) is dict:
            value = _pairs(f, hint, value)
        values[f.name] = value
    values.update(given)
    return cls(**values)


def without_none(hint: Any) -> Any:
    """`X | None` is X on the command line: None is what leaving the option out means."""
    if get_origin(hint) in (Union, types.UnionType):
        rest = [a for a in get_args(hint) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


def _check_scalar(cls: type, name: str, hint: Any) -> None:
    if hint not in _SCALARS:
        raise TypeError(f"{cls.__name__}.{name}: no command-line form for {hint!r}")


def _help(f: dataclasses.Field[Any], caller_default: str | None) -> str:
    text = str(f.metadata["help"])
    default = caller_default if caller_default is not None else _default_text(f)
    if default is not None and "default" not in text:
        text += f" (default: {default})"
    return text.replace("%", "%%")  # argparse %-formats help strings


def _default_text(f: dataclasses.Field[Any]) -> str | None:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return None
    if value is None or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _separated(item: type, separator: str) -> Callable[[str], list[Any] | None]:
    def parse(text: str) -> list[Any] | None:
        parts = [item(p.strip()) for p in text.split(separator) if p.strip()]
        return parts or None  # an empty list means "not given": the dataclass default applies

    parse.__name__ = f"{separator!r}-separated {item.__name__}"  # argparse names the type in its errors
    return parse


def _pairs(f: dataclasses.Field[Any], hint: Any, items: list[str]) -> dict[Any, Any]:
    key_type, value_type = get_args(hint)
    metavar = str(f.metadata.get("metavar", "NAME=VALUE"))
    minimum = f.metadata.get("minimum")
    wants = metavar if minimum is None else f"{metavar} with {metavar.partition('=')[2]} >= {minimum:g}"
    out: dict[Any, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        try:
            key, value = key_type(name.strip()), value_type(raw)
            # `>=` is false for NaN, so NaN is turned away too
            ok = bool(sep and name.strip()) and (minimum is None or value >= minimum)
        except ValueError:
            ok = False
        if not ok:
            raise OptionError(f"{flag(f.name)} wants {wants}, got {item!r}")
        out[key] = value
    return out
