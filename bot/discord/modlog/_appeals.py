"""Members' appeals: the Appeal button under a ladder's DM, the form it opens, the appeal's own post in the
mod-log, and the moderators' Accept and Reject under it.

An appeal is filed once per case, by the member the case is about (bot/storage/appeals.py checks both, and
how many appeals a member files a day), from the DM; the button and the form it opens carry their guild and
flag, so both keep working after a restart, and a member pressing it for a case that is not theirs is told
there is none.
Accepting reverses the verdict the way a moderator's Dismiss does (`review`): the strike is withdrawn, a
timeout it applied lifted, and the flag becomes clean training data. Rejecting may send the member a note.
Either way the member is told once by DM; a DM that cannot be delivered is recorded on the appeal.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import discord

from bot.discord.app import ToxmodBot, bot_of
from bot.discord.errors import NotFoundError, UserInputError, acknowledge, missing_permissions, send_ephemeral
from bot.discord.modlog._actions import review
from bot.discord.modlog._channel import modlog_channel
from bot.discord.modlog._embeds import describe_failure, display_text, message_url, strike_line
from bot.discord.modlog._ladder import appeal_custom_id, lift_automod_timeout, tell_user
from bot.discord.modlog._post import refresh_flag
from bot.storage.appeals import (
    APPEAL_CHARS,
    AppealDecided,
    AppealRefused,
    appealable,
    decide_appeal,
    file_appeal,
    get_appeal,
    note_appeal_dm,
    set_appeal_post,
)
from bot.storage.cases import Appeal, AppealStatus
from bot.storage.flags import get_flag
from bot.storage.tables import Flag, FlagStatus, utcnow

log = logging.getLogger(__name__)

NOTE_CHARS = 500  # of a moderator's note to the member
APPEAL_FORM, REJECT_FORM = "toxmod:appeal-form", "toxmod:appeals:reject-form"  # the forms' ids, before their case
COLOURS = {AppealStatus.OPEN: discord.Colour.orange(), AppealStatus.ACCEPTED: discord.Colour.green(),
           AppealStatus.REJECTED: discord.Colour.dark_grey()}


# -- the member's side: the button under the DM and the form -------------------------------------------
class AppealButton(discord.ui.DynamicItem[discord.ui.Button],
                   template=r"toxmod:appeal:(?P<guild_id>[0-9]+):(?P<flag_id>[0-9]+)"):
    """Appeal, under the DM the ladder sent about one case (the id is `_ladder.appeal_custom_id`'s)."""

    def __init__(self, guild_id: int, flag_id: int) -> None:
        super().__init__(discord.ui.Button(label="Appeal", style=discord.ButtonStyle.primary,
                                           custom_id=appeal_custom_id(guild_id, flag_id)))
        self.guild_id, self.flag_id = guild_id, flag_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str]) -> AppealButton:
        return cls(int(match["guild_id"]), int(match["flag_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot, member_id = bot_of(interaction), interaction.user.id
        guild_id, flag_id = self.guild_id, self.flag_id
        try:
            await bot.db.read(lambda s: appealable(s, guild_id, flag_id, member_id))
        except AppealRefused as exc:
            await send_ephemeral(interaction, str(exc))
            return
        await send_form(interaction, AppealForm(guild_id, flag_id))


class AppealForm(discord.ui.Modal, title="Appeal this decision"):
    """What the member writes to the moderators: one text, at most APPEAL_CHARS long. Its id carries its case;
    `on_form_submit` files what is sent."""

    text: discord.ui.TextInput = discord.ui.TextInput(
        label="Why should the moderators reconsider?", style=discord.TextStyle.paragraph,
        min_length=1, max_length=APPEAL_CHARS, custom_id="appeal_text")

    def __init__(self, guild_id: int, flag_id: int) -> None:
        super().__init__(timeout=None, custom_id=f"{APPEAL_FORM}:{guild_id}:{flag_id}")


async def file_from_form(interaction: discord.Interaction, guild_id: int, flag_id: int, text: str) -> None:
    """File the appeal and post it in the server's mod-log; tell the member either way."""
    bot, member_id = bot_of(interaction), interaction.user.id
    if not text.strip():  # the form asks for at least one character; a hand-made submission may not
        await send_ephemeral(interaction, "An appeal needs a few words on why the moderators should reconsider.")
        return
    await acknowledge(interaction)
    try:
        appeal = await bot.db.write(lambda s: file_appeal(s, guild_id, flag_id, member_id, text, utcnow()))
    except AppealRefused as exc:
        await send_ephemeral(interaction, str(exc))
        return
    guild = bot.get_guild(guild_id)
    if guild is not None:
        await post_appeal(bot, guild, appeal)
    await send_ephemeral(interaction, f"Your appeal of case {flag_id} was sent to the moderators. They decide "
                                      "once; you will be told here.")


async def send_form(interaction: discord.Interaction, form: discord.ui.Modal) -> None:
    """Open `form`, kept out of discord.py's store of open forms, which a restart empties: its submission is
    handled by its id (`on_form_submit`), so a form opened before a restart can still be sent after it."""
    form.stop()  # a stopped form is not stored
    await interaction.response.send_modal(form)


async def on_form_submit(interaction: discord.Interaction) -> None:
    """Every submission of an appeal's form or a rejection's, whenever the form was opened."""
    if interaction.type is not discord.InteractionType.modal_submit or interaction.data is None:
        return
    custom_id = str(interaction.data.get("custom_id", ""))
    values = dict(_form_values(interaction.data))
    if match := re.fullmatch(rf"{APPEAL_FORM}:([0-9]+):([0-9]+)", custom_id):
        await file_from_form(interaction, int(match[1]), int(match[2]), values.get("appeal_text", ""))
    elif match := re.fullmatch(rf"{REJECT_FORM}:([0-9]+)", custom_id):
        await reject_from_form(interaction, int(match[1]), values.get("reject_note", ""))


def _form_values(data: Any) -> Iterator[tuple[str, str]]:
    """(custom id, value) of every text input in a form's submission, however its rows or labels nest them."""
    if isinstance(data, dict):
        if "custom_id" in data and isinstance(data.get("value"), str):
            yield str(data["custom_id"]), data["value"]
        for key in ("components", "component"):
            yield from _form_values(data.get(key))
    elif isinstance(data, list):
        for item in data:
            yield from _form_values(item)


# -- the moderators' side: the appeal's post and its buttons --------------------------------------------
async def post_appeal(bot: ToxmodBot, guild: discord.Guild, appeal: Appeal) -> None:
    """Post the appeal in the guild's mod-log; should that fail, the mod-log delivery tries again later
    (`/appeals list` finds the appeal meanwhile)."""
    channel = modlog_channel(guild, await bot.moderation.guild_config(guild.id))
    flag = await bot.db.read(lambda s: get_flag(s, guild.id, appeal.flag_id))
    reason = "no mod-log channel" if flag is None or channel is None else ""
    if flag is not None and channel is not None:
        try:
            posted = await channel.send(embed=appeal_embed(appeal, flag), view=appeal_view(appeal))
        except discord.HTTPException as exc:
            reason = describe_failure(exc, "post in the mod-log channel")
        else:
            await bot.db.write(lambda s: set_appeal_post(s, appeal.id, posted.channel.id, posted.id))
            return
    log.warning("guild %s: appeal %d not posted yet: %s", guild.id, appeal.id, reason)
    now = discord.utils.utcnow()
    await bot.db.write(lambda s: set_appeal_post(s, appeal.id, None, None, reason, now))


def appeal_embed(appeal: Appeal, flag: Flag) -> discord.Embed:
    """The appeal with its case: who, what they wrote (as typed, inert), what the ladder did, the decision."""
    text = appeal.text
    embed = discord.Embed(title=f"Appeal #{appeal.id} of flag #{flag.id}", colour=COLOURS[appeal.status],
                          description=display_text(text, APPEAL_CHARS, 3000) if text else "*(text erased)*")
    embed.add_field(name="Member", value=f"<@{appeal.member_id}>")
    if flag.guild_id and flag.modlog_channel_id and flag.modlog_message_id:
        url = message_url(flag.guild_id, flag.modlog_channel_id, flag.modlog_message_id)
        embed.add_field(name="Case", value=f"[flag #{flag.id}]({url})")
    embed.add_field(name="Ladder", value=strike_line(flag) or "no strike", inline=False)
    embed.add_field(name="Status", value=appeal_status(appeal), inline=False)
    return embed


def appeal_status(appeal: Appeal) -> str:
    if appeal.status is AppealStatus.OPEN:
        return "Open: Accept withdraws the strike and dismisses the flag; Reject keeps them"
    line = f"{appeal.status.value.capitalize()} by <@{appeal.decided_by}>"
    if appeal.note:
        line += f" — {display_text(appeal.note, NOTE_CHARS, 900)}"
    if appeal.dm:
        line += "\nmember told by DM" if appeal.dm == "sent" else f"\nDM {appeal.dm}"
    return line


class AppealDecision(discord.ui.DynamicItem[discord.ui.Button],
                     template=r"toxmod:appeals:(?P<action>accept|reject):(?P<appeal_id>[0-9]+)"):
    """Accept / Reject under an appeal's post."""

    def __init__(self, action: str, appeal_id: int, *, disabled: bool = False) -> None:
        style = discord.ButtonStyle.success if action == "accept" else discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=action.capitalize(), style=style, disabled=disabled,
                                           custom_id=f"toxmod:appeals:{action}:{appeal_id}"))
        self.action, self.appeal_id = action, appeal_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str]) -> AppealDecision:
        return cls(match["action"], int(match["appeal_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if interaction.guild is None or missing_permissions(interaction, manage_messages=True):
            await send_ephemeral(interaction, "You need the Manage Messages permission to do that.")
            return
        if self.action == "reject":  # the note is asked first: a form must be the click's first answer
            await send_form(interaction, RejectForm(self.appeal_id))
            return
        await acknowledge(interaction)
        await decide(bot_of(interaction), interaction, interaction.guild, self.appeal_id, AppealStatus.ACCEPTED)


class RejectForm(discord.ui.Modal, title="Reject the appeal"):
    """The optional note sent to the member with the rejection; `on_form_submit` rejects with it."""

    note: discord.ui.TextInput = discord.ui.TextInput(
        label="A note to the member (optional)", style=discord.TextStyle.paragraph, required=False,
        max_length=NOTE_CHARS, custom_id="reject_note")

    def __init__(self, appeal_id: int) -> None:
        super().__init__(timeout=None, custom_id=f"{REJECT_FORM}:{appeal_id}")


async def reject_from_form(interaction: discord.Interaction, appeal_id: int, note: str) -> None:
    """Reject, with the note if one was written (the permission checked again: it may have been taken away
    while the form was open)."""
    if interaction.guild is None or missing_permissions(interaction, manage_messages=True):
        await send_ephemeral(interaction, "You need the Manage Messages permission to do that.")
        return
    await acknowledge(interaction)
    await decide(bot_of(interaction), interaction, interaction.guild, appeal_id, AppealStatus.REJECTED,
                 note.strip()[:NOTE_CHARS] or None)


def appeal_view(appeal: Appeal) -> discord.ui.View:
    decided = appeal.status is not AppealStatus.OPEN
    view = discord.ui.View(timeout=None)
    view.add_item(AppealDecision("accept", appeal.id, disabled=decided))
    view.add_item(AppealDecision("reject", appeal.id, disabled=decided))
    return view


async def decide(bot: ToxmodBot, interaction: discord.Interaction, guild: discord.Guild, appeal_id: int,
                 status: AppealStatus, note: str | None = None) -> None:
    """Record the decision once; on Accept reverse the verdict; bring both posts up to date; tell the member."""
    actor, undone = interaction.user.id, None
    try:
        appeal = await bot.db.write(lambda s: decide_appeal(s, guild.id, appeal_id, status, actor, utcnow(), note))
        if appeal is None:
            raise NotFoundError(f"No appeal #{appeal_id} in this server.")
        if status is AppealStatus.ACCEPTED:
            flag = await review(bot, guild.id, appeal.flag_id, FlagStatus.DISMISSED, actor,
                                f"appeal #{appeal.id} accepted")
            undone = await lift_automod_timeout(bot, guild, flag)
            await refresh_flag(bot, guild, flag)
    except AppealDecided as exc:
        await send_ephemeral(interaction, f"Appeal #{appeal_id} was already {exc.appeal.status.value} by another "
                                          "moderator.")
        return
    except (NotFoundError, UserInputError) as exc:
        await send_ephemeral(interaction, str(exc))
        return
    dm = await tell_user(bot, appeal.member_id, decision_embed(guild, appeal))
    appeal = await bot.db.write(lambda s: note_appeal_dm(s, guild.id, appeal_id, dm)) or appeal
    await refresh_appeal(bot, guild, appeal)
    await send_ephemeral(interaction, f"Appeal #{appeal.id} {status.value}." + (f" {undone.capitalize()}." if undone
                                                                                  else ""))


def decision_embed(guild: discord.Guild, appeal: Appeal) -> discord.Embed:
    """The member's DM about the decision, with the moderator's note on a rejection."""
    if appeal.status is AppealStatus.ACCEPTED:
        return discord.Embed(title=f"Your appeal to {guild.name} was accepted", colour=discord.Colour.green(),
                             description=f"The strike of case {appeal.flag_id} was withdrawn, and anything it did "
                                         "(a timeout) undone.")
    embed = discord.Embed(title=f"Your appeal to {guild.name} was rejected", colour=discord.Colour.dark_grey(),
                          description=f"The moderators reviewed case {appeal.flag_id} and kept their decision.")
    if appeal.note:
        embed.add_field(name="Note from the moderators", value=display_text(appeal.note, NOTE_CHARS, 1000))
    return embed


async def refresh_appeal(bot: ToxmodBot, guild: discord.Guild, appeal: Appeal) -> None:
    """Bring the appeal's post up to date (its buttons off once decided)."""
    channel = guild.get_channel(appeal.modlog_channel_id) if appeal.modlog_channel_id else None
    flag = await bot.db.read(lambda s: get_flag(s, guild.id, appeal.flag_id))
    fresh = await bot.db.read(lambda s: get_appeal(s, guild.id, appeal.id))
    message_id = appeal.modlog_message_id
    if not isinstance(channel, discord.abc.Messageable) or flag is None or fresh is None or message_id is None:
        return
    try:
        await channel.get_partial_message(message_id).edit(embed=appeal_embed(fresh, flag), view=appeal_view(fresh))
    except discord.HTTPException as exc:
        log.warning("could not update the post of appeal %d: %s", appeal.id, describe_failure(exc, "edit it"))


ITEMS = (AppealButton, AppealDecision)
