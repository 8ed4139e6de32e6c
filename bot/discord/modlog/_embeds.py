"""How a flag looks to moderators: the mod-log embed, rebuilt from the database row every time.

Whichever path changed the flag (button, slash command, automod) the message ends up showing the same
thing, because nothing but the row feeds it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

import discord
from sqlalchemy import inspect

from bot.storage.tables import Flag, FlagContext, FlagKind, FlagOrigin, FlagStatus

REPORTERS_SHOWN = 5
MEMBERS_SHOWN, CHANNELS_SHOWN, SLOWMODE_SHOWN = 10, 5, 5  # of a flood or raid
TEXT_LIMIT = 1500  # characters of a flagged text shown: readable, and room for the escaping
DESCRIPTION_ROOM = 4000  # of Discord's 4,096 for a description, for the escaped text (the spoiler bars aside)
NOTE_LIMIT, NOTE_ROOM = 200, 600  # a moderator's note, inside a field of at most 1,024 characters
CONTEXT_ROOM = 1000  # of a field's 1,024 characters, for the context lines (escaped, one per message)
CONTEXT_MIN_ROOM = 150  # a line with less room would show its author (and a reply's link) and little else
EMBED_ROOM = 6000  # Discord's limit on all of an embed's text; the context gets what the rest leaves
# Discord's own autolink pattern: a URL is shown as typed (backslashes would change where it leads).
_URL = re.compile(r"https?://[^\s<]+[^<.,:;\"')\]\s]")
# Joiners are part of emoji (a family is three people joined by U+200D) and of Persian and Indic words, and
# tag characters of flag emoji (Scotland's): invisible format characters that show nothing false, so kept.
_KEPT_FORMAT = re.compile("[\u200c\u200d\U000e0020-\U000e007f]")
COLOURS = {
    FlagStatus.PENDING: discord.Colour.orange(),
    FlagStatus.CONFIRMED: discord.Colour.red(),
    FlagStatus.DISMISSED: discord.Colour.green(),
}


def jump_url(flag: Flag) -> str | None:
    if flag.guild_id and flag.channel_id and flag.message_id:
        return message_url(flag.guild_id, flag.channel_id, flag.message_id)
    return None


def message_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def spoiler_safe(text: str | None) -> str:
    """The text behind a spoiler, shown as typed (see `display_text`), so nothing in it can close the
    spoiler, format the embed or make the moderator's view lie."""
    if text is None:
        return "*(text erased by retention)*"
    if not text.strip():
        return "*(no text)*"
    return f"||{display_text(text, TEXT_LIMIT, DESCRIPTION_ROOM)}||"


def display_text(text: str, limit: int, room: int) -> str:
    r"""Member-written text for an embed: exactly the characters typed, none of them acting on the embed.

    Every ASCII punctuation character is escaped with a backslash (Discord shows "\x" as "x" for any
    punctuation), so no markdown forms: no masked link, even one whose "[label]" spans a newline (which
    discord.utils.escape_markdown misses), no spoiler bars closing ours, no heading, quote, code or
    mention. URLs are kept as typed, but with "|" percent-encoded. Control characters and invisible
    format characters, the bidi overrides above all (U+202E shows text backwards, so a moderator would
    read something other than what was sent), are shown as their code point: ⟨U+202E⟩. Newlines stay.
    At most `limit` characters of `text` are shown, escaped into at most `room` ("…" marks a cut).
    """
    shown: list[str] = []
    size = 0
    for piece in _display_pieces(text[:limit]):
        if size + len(piece) > room:
            return "".join(shown) + "…"
        shown.append(piece)
        size += len(piece)
    return "".join(shown) + ("…" if len(text) > limit else "")


def _display_pieces(text: str) -> Iterator[str]:
    """`display_text` one typed character (or URL) at a time, so a cut never splits an escape."""
    text = text.replace("\r\n", "\n")
    end = 0
    for url in _URL.finditer(text):
        yield from map(_display_char, text[end : url.start()])
        yield url.group(0).replace("|", "%7C")
        end = url.end()
    yield from map(_display_char, text[end:])


def _display_char(ch: str) -> str:
    if ch in "\n\t":
        return ch
    if ch.isascii() and not ch.isalnum() and not ch.isspace() and ch.isprintable():
        return "\\" + ch
    category = unicodedata.category(ch)
    if category in ("Zl", "Zp") or ch == "\r":
        return "\n"  # line and paragraph separators, and a lone carriage return, break the line anyway
    if category == "Cc" or (category == "Cf" and not _KEPT_FORMAT.match(ch)):
        return f"⟨U+{ord(ch):04X}⟩"
    return ch


def shown_labels(flag: Flag) -> list[tuple[str, float]]:
    """The two labels moderators see: as the policy ranked them at flag time (margin over threshold).

    Flags from before that was stored fall back to the two highest scores.
    """
    if flag.top_labels:
        return [(str(label), float(p)) for label, p in flag.top_labels]
    return sorted(flag.scores.items(), key=lambda kv: kv[1], reverse=True)[:2]


def flag_embed(flag: Flag) -> discord.Embed:
    if flag.is_episode:
        return episode_embed(flag)
    top = shown_labels(flag)
    title = f"Flag #{flag.id}" + (" · reported by a member" if flag.origin is FlagOrigin.REPORTED else "")
    embed = discord.Embed(title=title, description=spoiler_safe(flag.text), colour=COLOURS[flag.status])
    embed.add_field(name="Author", value=f"<@{flag.author_id}>" if flag.author_id else "unknown")
    embed.add_field(name="Channel", value=f"<#{flag.channel_id}>" if flag.channel_id else "unknown")
    url = jump_url(flag)
    embed.add_field(name="Message", value=f"[Jump to message]({url})" if url else "n/a")
    if flag.scores:
        embed.add_field(name="Top labels", value="\n".join(f"{label} {score:.2f}" for label, score in top))
        embed.add_field(name="Passed threshold", value=", ".join(flag.labels) or "none (reported)")
    else:  # a language the model cannot read, sent to review by this server's rule
        embed.add_field(name="Not scored", value=f"language not supported ({flag.language or 'unknown'})")
    if flag.language:
        embed.add_field(name="Language", value=flag.language)
    reporters = [r.reporter_id for r in flag.reports] or ([flag.reporter_id] if flag.reporter_id else [])
    if reporters:
        shown = ", ".join(f"<@{r}>" for r in reporters[:REPORTERS_SHOWN])
        more = f" and {len(reporters) - REPORTERS_SHOWN} more" if len(reporters) > REPORTERS_SHOWN else ""
        embed.add_field(name="Reported by", value=f"{shown}{more} ({len(reporters)} report"
                                                  f"{'s' if len(reporters) > 1 else ''})")
    if flag.previous is not None:
        embed.add_field(name="Edited after", value=f"flag #{flag.previous.id}, {status_line(flag.previous)}",
                        inline=False)
    embed.add_field(name="Status", value=status_line(flag), inline=False)
    embed.set_footer(text=f"flag {flag.id} · model {flag.model_version}")
    _add_strike(embed, flag)
    _add_context(embed, flag)
    return embed


def strike_line(flag: Flag) -> str | None:
    """What the escalation ladder made of the flag: the member's strikes in its window and what its step
    did, whether the member was told, and once the verdict was reversed, what undoing it did. None when
    the flag has no strike (no ladder here, not confirmed) or it was not loaded with the flag."""
    strike = None if "strike" in inspect(flag).unloaded else flag.strike
    if strike is None:
        return None
    if strike.revoked_at is not None:
        return f"~~{strike.result or 'strike'}~~\n{strike.undo or 'strike withdrawn'}"
    line = strike.result or f"strike {strike.counted} in {strike.decay_days} days: applying the ladder's step"
    if strike.result is None and strike.error:
        line += f" (retrying: {strike.error})"
    if strike.dm:
        line += "\nmember told by DM" if strike.dm == "sent" else f"\nDM {strike.dm}"
    return line


def _add_strike(embed: discord.Embed, flag: Flag) -> None:
    if (line := strike_line(flag)) is not None:
        embed.insert_field_at(len(embed.fields) - 1, name="Ladder", value=line[:NOTE_ROOM], inline=False)


def context_of(flag: Flag) -> list[FlagContext]:
    """The flag's context lines as loaded with it; none where they were not (a flag made elsewhere, unloaded)."""
    return [] if "context" in inspect(flag).unloaded else list(flag.context)


def reply_url(flag: Flag) -> str | None:
    """Where the message that the flagged one replies to is, if it is a reply and that message is stored."""
    reply = next((line for line in context_of(flag) if line.is_reply), None)
    return None if reply is None else message_url(reply.guild_id, reply.channel_id, reply.message_id)


def _add_context(embed: discord.Embed, flag: Flag) -> None:
    """The messages before the flagged one and the one it replies to, oldest first, before the status: as
    inert as the flagged text (`display_text`), one line each, in what room the embed has left."""
    lines = context_of(flag)
    if flag.context_unavailable:
        value = "context unavailable"
    elif lines:
        room = min(CONTEXT_ROOM, EMBED_ROOM - len(embed) - len("Context"))
        value = ("\n".join(context_line(line, room // len(lines) - 1) for line in lines)
                 if room >= CONTEXT_MIN_ROOM * len(lines) else "context not shown: the post is full")
    else:
        return  # no message before it, or a flag from before context was kept
    embed.insert_field_at(len(embed.fields) - 1, name="Context", value=value, inline=False)


def context_line(line: FlagContext, room: int) -> str:
    """One context line: who wrote it, the reply marked (with a jump to it), its text shown as typed."""
    mark = (f"[↩ replied to]({message_url(line.guild_id, line.channel_id, line.message_id)}) "
            if line.is_reply else "")
    head = f"{mark}<@{line.author_id}>: "
    text = line.text
    if text is None:
        return f"{head}*(erased)*"
    return head + display_text(text, len(text), max(room - len(head), 1)).replace("\n", " ")


def episode_embed(flag: Flag) -> discord.Embed:
    """A flood's or raid's flag: its text once, the members and channels, how many messages, each with a
    jump to the first and latest listed, and what became of the slow mode it asked for."""
    figures = flag.episode or {}
    listed = list(flag.listed)
    messages = int(figures.get("messages", len(listed)))
    members = list(dict.fromkeys(m.author_id for m in listed))
    count = f"{max(int(figures.get('members', 0)), len(members))}{'+' if figures.get('members_capped') else ''}"
    flood = flag.kind is FlagKind.FLOOD
    title = (f"Flag #{flag.id} · flood: {messages} messages from one member" if flood
             else f"Flag #{flag.id} · raid: {messages} messages from {count} new members")
    embed = discord.Embed(title=title, description=spoiler_safe(flag.text), colour=COLOURS[flag.status])
    if flood:
        embed.add_field(name="Member", value=f"<@{flag.author_id}>" if flag.author_id else "unknown")
    else:
        embed.add_field(name="Members", value=_some([f"<@{m}>" for m in members], MEMBERS_SHOWN, count))
    channels = list(dict.fromkeys(m.channel_id for m in listed)) or ([flag.channel_id] if flag.channel_id else [])
    embed.add_field(name="Channels", value=_some([f"<#{c}>" for c in channels], CHANNELS_SHOWN) or "unknown")
    if listed and flag.guild_id:
        first, latest = listed[0], listed[-1]
        jumps = f"[first]({message_url(flag.guild_id, first.channel_id, first.message_id)})"
        if latest is not first:
            jumps += f", [latest listed]({message_url(flag.guild_id, latest.channel_id, latest.message_id)})"
        embed.add_field(name="Messages", value=f"{messages} ({jumps})")
    slowmode = list((figures.get("slowmode") or {}).values())
    if slowmode:
        embed.add_field(name="Slow mode", value=_some(slowmode, SLOWMODE_SHOWN, sep="\n"), inline=False)
    embed.add_field(name="Status", value=status_line(flag), inline=False)
    embed.set_footer(text=f"flag {flag.id} · {flag.kind.value} · repeats are not scored")
    _add_strike(embed, flag)
    return embed


def _some(items: list[str], shown: int, total: str | None = None, sep: str = ", ") -> str:
    """The first `shown` items, and how many more (of `total`, when more exist than are listed)."""
    more = (f" ({total} in all)" if total is not None and total != str(len(items))
            else f" and {len(items) - shown} more" if len(items) > shown else "")
    return sep.join(items[:shown]) + more


def status_line(flag: Flag) -> str:
    if flag.status is FlagStatus.PENDING:
        line = "Pending review"
    else:
        line = f"{flag.status.value.capitalize()} by <@{flag.reviewer_id}>"
        if flag.verdict_labels:
            line += f" as {', '.join(flag.verdict_labels)}"
        if flag.note:
            line += f" — {display_text(flag.note, NOTE_LIMIT, NOTE_ROOM)}"
    if flag.action_taken:
        line += f"\nActions: {flag.action_taken}"
    return line


# What a 404 means, by Discord's JSON error code: whichever thing the bot acted on is gone.
_GONE = {
    10003: "the channel no longer exists",
    10004: "the server no longer exists",
    10007: "the member is no longer in the server",
    10008: "the message no longer exists",
    10013: "the user no longer exists",
}


def describe_failure(exc: Exception, action: str) -> str:
    """Why Discord refused `action` ("delete the message", "post in the mod-log channel"), for moderators.

    The caller says what it was doing, so a missing permission reads "missing permission to delete the
    message", not a mod-log problem the moderator would go looking for in vain.
    """
    if isinstance(exc, discord.Forbidden):
        return f"missing permission to {action}"
    if isinstance(exc, discord.NotFound):
        return _GONE.get(exc.code, f"Discord found nothing to {action}")
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status}: {exc.text or exc}"
    return str(exc)
