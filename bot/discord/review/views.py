"""The mod-log's persistent buttons and selects, and the views that carry them.

They are `DynamicItem`s whose custom ids carry the flag id, so they keep working after a restart without
any view state in memory. A click is handed to the Review cog that owns them (registered in the
package's `setup`), found through the client rather than imported, so no module imports a cog.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord.app import bot_of
from bot.labels import LABELS
from bot.storage.models import Flag, FlagStatus

if TYPE_CHECKING:
    from bot.discord.review.cog import Review

TIMEOUT_CHOICES = {"10 minutes": 10, "1 hour": 60, "1 day": 1440, "1 week": 10080}
BUTTONS = {
    "confirm": ("Confirm", discord.ButtonStyle.danger),
    "dismiss": ("Dismiss", discord.ButtonStyle.success),
    "delete": ("Delete message", discord.ButtonStyle.secondary),
    "timeout": ("Timeout author", discord.ButtonStyle.secondary),
}


def review_cog(interaction: discord.Interaction) -> Review:
    cog = bot_of(interaction).get_cog("Review")
    if cog is None:
        raise RuntimeError("the Review cog is not loaded")
    return cast("Review", cog)  # the cog registered under that name (imported for type checking only)


class FlagButton(discord.ui.DynamicItem[discord.ui.Button],
                 template=r"toxmod:flag:(?P<action>confirm|dismiss|delete|timeout):(?P<flag_id>[0-9]+)"):
    """Confirm / Dismiss / Delete message / Timeout author on one flag; handled by the Review cog."""

    def __init__(self, action: str, flag_id: int, *, disabled: bool = False) -> None:
        label, style = BUTTONS[action]
        super().__init__(discord.ui.Button(label=label, style=style, disabled=disabled,
                                           custom_id=f"toxmod:flag:{action}:{flag_id}"))
        self.action, self.flag_id = action, flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str]) -> FlagButton:
        return cls(match["action"], int(match["flag_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await review_cog(interaction).handle_button(interaction, self.action, self.flag_id)


class TimeoutSelect(discord.ui.DynamicItem[discord.ui.Select], template=r"toxmod:timeout:(?P<flag_id>[0-9]+)"):
    """The duration choice that the Timeout button opens (ephemeral, but restart-proof all the same)."""

    def __init__(self, flag_id: int) -> None:
        options = [discord.SelectOption(label=label, value=str(minutes)) for label, minutes in TIMEOUT_CHOICES.items()]
        super().__init__(discord.ui.Select(placeholder="Timeout for how long?", options=options,
                                           custom_id=f"toxmod:timeout:{flag_id}"))
        self.flag_id = flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str]) -> TimeoutSelect:
        return cls(int(match["flag_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await review_cog(interaction).handle_timeout_choice(interaction, self.flag_id, int(self.item.values[0]))


class VerdictSelect(discord.ui.DynamicItem[discord.ui.Select], template=r"toxmod:verdict:(?P<flag_id>[0-9]+)"):
    """After Confirm: which labels really apply (preselected: what the flag was confirmed as)."""

    def __init__(self, flag_id: int, chosen: list[str] | None = None) -> None:
        chosen = chosen or []
        options = [discord.SelectOption(label=label, value=label, default=label in chosen) for label in LABELS]
        super().__init__(discord.ui.Select(placeholder="Which labels apply?", options=options, min_values=1,
                                           max_values=len(LABELS), custom_id=f"toxmod:verdict:{flag_id}"))
        self.flag_id = flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str]) -> VerdictSelect:
        return cls(int(match["flag_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await review_cog(interaction).handle_verdict_labels(interaction, self.flag_id, list(self.item.values))


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
