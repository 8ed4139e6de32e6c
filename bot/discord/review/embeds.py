"""How a flag looks to moderators: the mod-log embed, rebuilt from the database row every time.

Whichever path changed the flag (button, slash command, automod) the message ends up showing the same
thing, because nothing but the row feeds it.
"""

from __future__ import annotations

import discord

from bot.storage.models import Flag, FlagOrigin, FlagStatus

TEXT_LIMIT = 1500  # of Discord's 4,096 for a description: room for the escaping, and readable
COLOURS = {
    FlagStatus.PENDING: discord.Colour.orange(),
    FlagStatus.CONFIRMED: discord.Colour.red(),
    FlagStatus.DISMISSED: discord.Colour.green(),
}


def jump_url(flag: Flag) -> str | None:
    if flag.guild_id and flag.channel_id and flag.message_id:
        return f"https://discord.com/channels/{flag.guild_id}/{flag.channel_id}/{flag.message_id}"
    return None


def spoiler_safe(text: str | None) -> str:
    """The text behind a spoiler, escaped so nothing in it can close the spoiler or format the embed."""
    if text is None:
        return "*(text erased by retention)*"
    if not text.strip():
        return "*(no text)*"
    body = text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"
    body = discord.utils.escape_markdown(body, as_needed=False).replace("||", "\\|\\|")
    return f"||{body}||"


def shown_labels(flag: Flag) -> list[tuple[str, float]]:
    """The two labels moderators see: as the policy ranked them at flag time (margin over threshold).

    Flags from before that was stored fall back to the two highest scores.
    """
    if flag.top_labels:
        return [(str(label), float(p)) for label, p in flag.top_labels]
    return sorted(flag.scores.items(), key=lambda kv: kv[1], reverse=True)[:2]


def flag_embed(flag: Flag) -> discord.Embed:
    top = shown_labels(flag)
    title = f"Flag #{flag.id}" + (" · reported by a member" if flag.origin is FlagOrigin.REPORTED else "")
    embed = discord.Embed(title=title, description=spoiler_safe(flag.text), colour=COLOURS[flag.status])
    embed.add_field(name="Author", value=f"<@{flag.author_id}>" if flag.author_id else "unknown")
    embed.add_field(name="Channel", value=f"<#{flag.channel_id}>" if flag.channel_id else "unknown")
    url = jump_url(flag)
    embed.add_field(name="Message", value=f"[Jump to message]({url})" if url else "n/a")
    embed.add_field(name="Top labels", value="\n".join(f"{label} {score:.2f}" for label, score in top))
    embed.add_field(name="Passed threshold", value=", ".join(flag.labels) or "none (reported)")
    if flag.origin is FlagOrigin.REPORTED and flag.reporter_id:
        embed.add_field(name="Reported by", value=f"<@{flag.reporter_id}>")
    embed.add_field(name="Status", value=status_line(flag), inline=False)
    embed.set_footer(text=f"flag {flag.id} · model {flag.model_version}")
    return embed


def status_line(flag: Flag) -> str:
    if flag.status is FlagStatus.PENDING:
        line = "Pending review"
    else:
        line = f"{flag.status.value.capitalize()} by <@{flag.reviewer_id}>"
        if flag.verdict_labels:
            line += f" as {', '.join(flag.verdict_labels)}"
        if flag.note:
            line += f" — {flag.note[:200]}"
    if flag.action_taken:
        line += f"\nActions: {flag.action_taken}"
    return line


def describe_failure(exc: Exception) -> str:
    if isinstance(exc, discord.Forbidden):
        return "missing permission to post in the mod-log channel"
    if isinstance(exc, discord.NotFound):
        return "the mod-log channel no longer exists"
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status}: {exc.text or exc}"
    return str(exc)
