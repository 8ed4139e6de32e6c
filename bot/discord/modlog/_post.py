"""A flag's post in the mod-log and the persistent buttons under it.

The post and its buttons are one loop: the post carries the buttons, and a click changes the flag, which
brings the post up to date. They live in one module so that the loop is a call inside it rather than an
import circle between modules.

A post that Discord refuses keeps the flag, stored with the reason and a time to try again (the delivery
loop does). The buttons are `DynamicItem`s whose custom ids carry the flag id, so they keep working after a
restart without any view state in memory. Every click re-checks the clicker's permissions and the flag's
guild: a flag id from another guild is answered exactly like an id that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import discord

from bot.discord.app import ToxmodBot, bot_of
from bot.discord.errors import (
    NotFoundError,
    UserInputError,
    acknowledge,
    missing_permissions,
    nothing_saved,
    send_ephemeral,
)
from bot.discord.modlog._actions import delete_flagged_message, load_flag, review, timeout_author
from bot.discord.modlog._channel import modlog_channel
from bot.discord.modlog._embeds import describe_failure, flag_embed, reply_url
from bot.labels import LABELS
from bot.moderation.guild_config import GuildConfig
from bot.storage.errors import DatabaseUnavailable
from bot.storage.flags import relabel_flag
from bot.storage.modlog_posts import set_modlog_post
from bot.storage.tables import Flag, FlagStatus

log = logging.getLogger(__name__)

RETRY_DELAYS = (1.0, 5.0)  # for 5xx answers; 4xx (deleted channel, missing permission) are not retried


# -- posting and refreshing ----------------------------------------------------------------------------
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


async def publish_flag(bot: ToxmodBot, guild: discord.Guild, flag: Flag, config: GuildConfig | None = None) -> None:
    """Post the flag in the guild's mod-log; on failure keep the flag, store why and when to retry (the
    delivery loop does), and log once per kind of failure. Without `config` the guild's is read.

    A flag already being posted by another path (live message, delivery loop, `/modlog set`) is left to it,
    so no flag is posted twice.
    """
    if flag.id in bot.posting:
        return
    bot.posting.add(flag.id)
    try:
        await _publish(bot, guild, flag, config)
    finally:
        bot.posting.discard(flag.id)


async def _publish(bot: ToxmodBot, guild: discord.Guild, flag: Flag, config: GuildConfig | None) -> None:
    config = config or await bot.moderation.guild_config(guild.id)
    channel = modlog_channel(guild, config)
    try:
        if config.modlog_channel_id is None:
            raise LookupError("no mod-log channel is set (an admin can run /modlog set)")
        if channel is None:
            raise LookupError("the mod-log channel no longer exists")
        posted = await post_flag(channel, flag)
    except (discord.HTTPException, LookupError) as exc:
        reason = describe_failure(exc, "post in the mod-log channel")
        if bot.modlog_failures.get(guild.id) != reason:
            log.warning("guild %s: flag %d kept but not posted: %s", guild.id, flag.id, reason)
        bot.modlog_failures[guild.id] = reason
        now = discord.utils.utcnow()
        await bot.db.write(lambda s: set_modlog_post(s, flag.id, config.modlog_channel_id, None, reason, now))
        return
    bot.modlog_failures.pop(guild.id, None)
    await bot.db.write(lambda s: set_modlog_post(s, flag.id, posted.channel.id, posted.id, None))


async def refresh_flag(bot: ToxmodBot, guild: discord.Guild, flag: Flag, config: GuildConfig | None = None) -> None:
    """Bring the flag's mod-log post up to date after a change made elsewhere (slash command, a report
    joining it, an edit); a pending flag that is not in the mod-log yet is posted instead."""
    if not (flag.modlog_channel_id and flag.modlog_message_id):
        if flag.status is FlagStatus.PENDING:
            await publish_flag(bot, guild, flag, config)
        return
    channel = guild.get_channel(flag.modlog_channel_id)
    if not isinstance(channel, discord.abc.Messageable):
        return  # gone (publish_flag only ever posts in a channel that holds messages)
    try:
        await channel.get_partial_message(flag.modlog_message_id).edit(embed=flag_embed(flag), view=flag_view(flag))
    except discord.HTTPException as exc:
        log.warning("could not update mod-log message for flag %d: %s", flag.id,
                    describe_failure(exc, "edit the mod-log post"))


# -- the buttons under a post, and the choices they open -----------------------------------------------
TIMEOUT_CHOICES = {"10 minutes": 10, "1 hour": 60, "1 day": 1440, "1 week": 10080}
BUTTONS = {
    "confirm": ("Confirm", discord.ButtonStyle.danger),
    "dismiss": ("Dismiss", discord.ButtonStyle.success),
    "delete": ("Delete message", discord.ButtonStyle.secondary),
    "timeout": ("Timeout author", discord.ButtonStyle.secondary),
}
ACTION_PERMISSIONS = {"confirm": "manage_messages", "dismiss": "manage_messages", "delete": "manage_messages",
                      "timeout": "moderate_members"}


class FlagButton(discord.ui.DynamicItem[discord.ui.Button],
                 template=r"toxmod:flag:(?P<action>confirm|dismiss|delete|timeout):(?P<flag_id>[0-9]+)"):
    """Confirm / Dismiss / Delete message / Timeout author on one flag."""

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
        try:
            await _on_flag_button(bot_of(interaction), interaction, self.action, self.flag_id)
        except (NotFoundError, UserInputError) as exc:
            await send_ephemeral(interaction, str(exc))
        except DatabaseUnavailable as exc:
            await send_ephemeral(interaction, nothing_saved(exc))


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
        await _on_timeout_choice(bot_of(interaction), interaction, self.flag_id, int(self.item.values[0]))


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
        await _on_verdict_labels(bot_of(interaction), interaction, self.flag_id, list(self.item.values))


ITEMS = (FlagButton, TimeoutSelect, VerdictSelect)


def flag_view(flag: Flag) -> discord.ui.View:
    reviewed = flag.status is not FlagStatus.PENDING
    deleted = "deleted" in (flag.action_taken or "")
    view = discord.ui.View(timeout=None)
    view.add_item(FlagButton("confirm", flag.id, disabled=reviewed))
    view.add_item(FlagButton("dismiss", flag.id, disabled=reviewed))
    view.add_item(FlagButton("delete", flag.id, disabled=deleted or flag.message_id is None))
    view.add_item(FlagButton("timeout", flag.id, disabled=flag.author_id is None))
    if (url := reply_url(flag)) is not None:  # the message the flagged one replies to
        view.add_item(discord.ui.Button(label="Open reply", url=url))
    return view


def timeout_view(flag_id: int) -> discord.ui.View:
    return discord.ui.View(timeout=None).add_item(TimeoutSelect(flag_id))


def verdict_view(flag: Flag) -> discord.ui.View:
    return discord.ui.View(timeout=None).add_item(VerdictSelect(flag.id, flag.verdict_labels))


# -- what a click does ---------------------------------------------------------------------------------
async def _on_flag_button(bot: ToxmodBot, interaction: discord.Interaction, action: str, flag_id: int) -> None:
    guild = interaction.guild
    if guild is None:
        raise NotFoundError("Flags only exist in servers.")
    needed = ACTION_PERMISSIONS[action]
    if missing_permissions(interaction, **{needed: True}):
        log.warning("refused %s on flag %d by %s: lacks %s", action, flag_id, interaction.user.id, needed)
        raise UserInputError(f"You need the {needed.replace('_', ' ').title()} permission to do that.")
    await acknowledge(interaction)  # the database may make us wait longer than Discord's 3 s
    flag = await load_flag(bot, guild.id, flag_id)
    if action == "timeout":
        await send_ephemeral(interaction, f"Time out <@{flag.author_id}> for how long?", view=timeout_view(flag.id))
        return
    if action in ("confirm", "dismiss"):
        status = FlagStatus.CONFIRMED if action == "confirm" else FlagStatus.DISMISSED
        flag = await review(bot, guild.id, flag.id, status, interaction.user.id, only_pending=True)
    else:
        flag = await delete_flagged_message(bot, guild, flag, interaction.user.id)
    await interaction.edit_original_response(embed=flag_embed(flag), view=flag_view(flag))
    if action == "confirm" and not flag.is_episode:  # one click confirms; correcting the labels is optional
        assert flag.verdict_labels is not None  # noqa: S101 - narrows for mypy: review_flag sets them on every verdict
        await interaction.followup.send(f"Flag #{flag.id} confirmed as {', '.join(flag.verdict_labels)}. "
                                        "Correct the labels if needed:", view=verdict_view(flag), ephemeral=True)


async def _on_verdict_labels(bot: ToxmodBot, interaction: discord.Interaction, flag_id: int,
                             labels: list[str]) -> None:
    guild = interaction.guild
    if guild is None or missing_permissions(interaction, manage_messages=True):
        await send_ephemeral(interaction, "You need the Manage Messages permission to do that.")
        return
    await acknowledge(interaction)
    try:
        flag = await bot.db.write(lambda s: relabel_flag(s, guild.id, flag_id, labels, interaction.user.id))
    except DatabaseUnavailable as exc:
        await send_ephemeral(interaction, nothing_saved(exc))
        return
    if flag is None:
        await send_ephemeral(interaction, f"Flag #{flag_id} is not a confirmed flag in this server.")
        return
    assert flag.verdict_labels is not None  # noqa: S101 - narrows for mypy: relabel_flag always sets them
    await interaction.edit_original_response(content=f"Flag #{flag.id} labelled {', '.join(flag.verdict_labels)}.",
                                             view=None)
    await refresh_flag(bot, guild, flag)


async def _on_timeout_choice(bot: ToxmodBot, interaction: discord.Interaction, flag_id: int, minutes: int) -> None:
    try:
        guild = interaction.guild
        if guild is None or missing_permissions(interaction, moderate_members=True):
            raise UserInputError("You need the Moderate Members permission to do that.")
        await acknowledge(interaction)
        flag = await timeout_author(bot, guild, await load_flag(bot, guild.id, flag_id), interaction.user, minutes)
    except (NotFoundError, UserInputError) as exc:
        await send_ephemeral(interaction, str(exc))
        return
    except DatabaseUnavailable as exc:
        await send_ephemeral(interaction, nothing_saved(exc))
        return
    await interaction.edit_original_response(content=f"<@{flag.author_id}> timed out for {minutes} minutes.",
                                             view=None)
    await refresh_flag(bot, guild, flag)
