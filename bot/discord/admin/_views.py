"""Promote / Discard under a retrain report, and what a click on them does.

The buttons are `DynamicItem`s whose custom ids carry the candidate's name, so a report posted before a
restart can still be acted on. Each click is checked again: only the bot's owner may promote or discard,
since either changes what every server gets.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path
from typing import Any

import discord
from sqlalchemy.orm import Session

from bot.discord.app import ToxmodBot, bot_of
from bot.discord.checks import OWNER_ONLY, is_owner
from bot.discord.errors import acknowledge, send_ephemeral
from bot.scoring.info import ModelNotFoundError
from bot.scoring.registry import PromotionRefused, promote
from bot.storage.audit import audit
from bot.storage.changes import Change, announce


class CandidateButton(discord.ui.DynamicItem[discord.ui.Button],
                      template=r"toxmod:candidate:(?P<action>promote|discard):(?P<name>candidate-[0-9-]+)"):
    """Promote / Discard one candidate."""

    def __init__(self, action: str, name: str, *, disabled: bool = False) -> None:
        style = discord.ButtonStyle.success if action == "promote" else discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=action.capitalize(), style=style, disabled=disabled,
                                           custom_id=f"toxmod:candidate:{action}:{name}"))
        self.action, self.name = action, name

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str]) -> CandidateButton:
        return cls(match["action"], match["name"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _on_candidate(bot_of(interaction), interaction, self.action, self.name)


def candidate_view(name: str, *, disabled: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CandidateButton("promote", name, disabled=disabled))
    view.add_item(CandidateButton("discard", name, disabled=disabled))
    return view


async def _on_candidate(bot: ToxmodBot, interaction: discord.Interaction, action: str, name: str) -> None:
    """Promote (refused when worse on shared validation) or Discard, then show the outcome in the report."""
    if interaction.guild is None or not await is_owner(interaction):
        await send_ephemeral(interaction, OWNER_ONLY)
        return
    await acknowledge(interaction)
    models_dir = Path(bot.settings.models_dir)
    if not (models_dir / name).is_dir():
        await send_ephemeral(interaction, f"Candidate `{name}` no longer exists.")
        return
    if action == "promote":
        try:
            await asyncio.to_thread(promote, models_dir, name)
            old, new = await bot.moderation.reload_model(bot.settings)
        except (PromotionRefused, ModelNotFoundError) as exc:
            await send_ephemeral(interaction, f"Not promoted: {exc}")
            return
        outcome = f"Promoted by {interaction.user.mention}: now serving {new} (was {old})."
    else:
        if bot.scorer.model.info.path.resolve() == (models_dir / name).resolve():
            await send_ephemeral(interaction, "That model is in service; roll back before discarding it.")
            return
        await asyncio.to_thread(shutil.rmtree, models_dir / name)
        outcome = f"Discarded by {interaction.user.mention}."

    def record(session: Session) -> None:
        audit(session, interaction.guild_id, interaction.user.id, f"candidate_{action}", candidate=name)
        if action == "promote":  # every other process switches too
            announce(session, Change(model=name))

    await bot.db.write(record)
    embed = interaction.message.embeds[0] if interaction.message and interaction.message.embeds else None
    if embed is not None:
        embed.set_field_at(len(embed.fields) - 1, name="Status", value=outcome, inline=False)
    await interaction.edit_original_response(embed=embed, view=candidate_view(name, disabled=True))
