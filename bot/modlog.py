"""How a flag looks in the mod-log channel: the embed, its persistent buttons, and posting it safely.

The buttons are `DynamicItem`s whose custom ids carry the flag id, so they keep working after a restart
without any view state in memory; the embed is always rebuilt from the database row, so whichever path
changed the flag (button, slash command, automod) the message ends up showing the same thing.
"""

from __future__ import annotations

import asyncio
import logging
import re

import discord

from bot.labels import LABELS
from bot.storage.models import Flag, FlagOrigin, FlagStatus

log = logging.getLogger(__name__)

TEXT_LIMIT = 1500  # of Discord's 4,096 for a description: room for the escaping, and readable
COLOURS = {
    FlagStatus.PENDING: discord.Colour.orange(),
    FlagStatus.CONFIRMED: discord.Colour.red(),
    FlagStatus.DISMISSED: discord.Colour.green(),
}
TIMEOUT_CHOICES = {"10 minutes": 10, "1 hour": 60, "1 day": 1440, "1 week": 10080}
BUTTONS = {
    "confirm": ("Confirm", discord.ButtonStyle.danger),
    "dismiss": ("Dismiss", discord.ButtonStyle.success),
    "delete": ("Delete message", discord.ButtonStyle.secondary),
    "timeout": ("Timeout author", discord.ButtonStyle.secondary),
}
RETRY_DELAYS = (1.0, 5.0)  # for 5xx answers; 4xx (deleted channel, missing permission) are not retried


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


class FlagButton(discord.ui.DynamicItem[discord.ui.Button],
                 template=r"toxmod:flag:(?P<action>confirm|dismiss|delete|timeout):(?P<flag_id>[0-9]+)"):
    """Confirm / Dismiss / Delete message / Timeout author on one flag; handled in bot.exts.review."""

    def __init__(self, action: str, flag_id: int, *, disabled: bool = False) -> None:
        label, style = BUTTONS[action]
        super().__init__(discord.ui.Button(label=label, style=style, disabled=disabled,
                                           custom_id=f"toxmod:flag:{action}:{flag_id}"))
        self.action, self.flag_id = action, flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button,
                             match: re.Match[str]) -> FlagButton:
        return cls(match["action"], int(match["flag_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        from bot.exts.review import handle_button

        await handle_button(interaction, self.action, self.flag_id)


class TimeoutSelect(discord.ui.DynamicItem[discord.ui.Select], template=r"toxmod:timeout:(?P<flag_id>[0-9]+)"):
    """The duration choice that the Timeout button opens (ephemeral, but restart-proof all the same)."""

    def __init__(self, flag_id: int) -> None:
        options = [discord.SelectOption(label=label, value=str(minutes)) for label, minutes in TIMEOUT_CHOICES.items()]
        super().__init__(discord.ui.Select(placeholder="Timeout for how long?", options=options,
                                           custom_id=f"toxmod:timeout:{flag_id}"))
        self.flag_id = flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Select,
                             match: re.Match[str]) -> TimeoutSelect:
        return cls(int(match["flag_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        from bot.exts.review import handle_timeout_choice

        await handle_timeout_choice(interaction, self.flag_id, int(self.item.values[0]))


class VerdictSelect(discord.ui.DynamicItem[discord.ui.Select], template=r"toxmod:verdict:(?P<flag_id>[0-9]+)"):
    """After Confirm: which labels really apply (preselected: what the flag was confirmed as)."""

    def __init__(self, flag_id: int, chosen: list[str] | None = None) -> None:
        chosen = chosen or []
        options = [discord.SelectOption(label=label, value=label, default=label in chosen) for label in LABELS]
        super().__init__(discord.ui.Select(placeholder="Which labels apply?", options=options, min_values=1,
                                           max_values=len(LABELS), custom_id=f"toxmod:verdict:{flag_id}"))
        self.flag_id = flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Select,
                             match: re.Match[str]) -> VerdictSelect:
        return cls(int(match["flag_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        from bot.exts.review import handle_verdict_labels

        await handle_verdict_labels(interaction, self.flag_id, list(self.item.values))


def verdict_view(flag: Flag) -> discord.ui.View:
    return discord.ui.View(timeout=None).add_item(VerdictSelect(flag.id, flag.verdict_labels))


def flag_view(flag: Flag) -> discord.ui.View:
    reviewed = flag.status is not FlagStatus.PENDING
    deleted = "deleted" in (flag.action_taken or "")
    view = discord.ui.View(timeout=None)
    view.add_item(FlagButton("confirm", flag.id, disabled=reviewed))
    view.add_item(FlagButton("dismiss", flag.id, disabled=reviewed))
    view.add_item(FlagButton("delete", flag.id, disabled=deleted or flag.message_id is None))
    view.add_item(FlagButton("timeout", flag.id, disabled=flag.author_id is None))
    return view


def timeout_view(flag_id: int) -> discord.ui.View:
    return discord.ui.View(timeout=None).add_item(TimeoutSelect(flag_id))


async def post_flag(channel: discord.abc.Messageable, flag: Flag) -> discord.Message:
    """Post with retries on Discord's 5xx answers; a 4xx or the last failure propagates to the caller."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return await channel.send(embed=flag_embed(flag), view=flag_view(flag))
        except discord.HTTPException as exc:
            if exc.status < 500 or delay is None:
                raise
            log.warning("mod-log post for flag %d failed with %d; retrying in %.0fs", flag.id, exc.status, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def describe_failure(exc: Exception) -> str:
    if isinstance(exc, discord.Forbidden):
        return "missing permission to post in the mod-log channel"
    if isinstance(exc, discord.NotFound):
        return "the mod-log channel no longer exists"
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status}: {exc.text or exc}"
    return str(exc)
