"""What moderators do to a flag, shared by the mod-log buttons and the `/flags` commands, so a flag
confirmed either way is stored, audited and shown identically.

Every action re-checks the clicker's permissions and the flag's guild: a flag id from another guild is
answered exactly like an id that does not exist.
"""

from __future__ import annotations

import logging
from datetime import timedelta

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
from bot.discord.review.embeds import describe_failure, flag_embed
from bot.discord.review.modlog import refresh_modlog_message
from bot.discord.review.views import flag_view, timeout_view, verdict_view
from bot.storage.database import DatabaseUnavailable
from bot.storage.models import Flag, FlagStatus
from bot.storage.repository import AlreadyReviewed, get_flag, record_action, relabel_flag, review_flag

log = logging.getLogger(__name__)

ACTION_PERMISSIONS = {"confirm": "manage_messages", "dismiss": "manage_messages", "delete": "manage_messages",
                      "timeout": "moderate_members"}


async def load_flag(bot: ToxmodBot, guild_id: int, flag_id: int) -> Flag:
    return _found(await bot.db.read(lambda s: get_flag(s, guild_id, flag_id)), flag_id)


async def review(bot: ToxmodBot, guild_id: int, flag_id: int, status: FlagStatus, actor_id: int,
                 note: str | None = None, *, only_pending: bool = False) -> Flag:
    try:
        return _found(await bot.db.write(lambda s: review_flag(s, guild_id, flag_id, status, actor_id, note=note,
                                                               only_pending=only_pending)), flag_id)
    except AlreadyReviewed as exc:
        raise UserInputError(f"Flag #{flag_id} was already {exc.flag.status.value} by another moderator.") from exc


async def delete_flagged_message(bot: ToxmodBot, guild: discord.Guild, flag: Flag, actor_id: int) -> Flag:
    channel = guild.get_channel_or_thread(flag.channel_id) if flag.channel_id else None
    # a flagged message was posted in a channel that holds messages; anything else is not that channel
    if not isinstance(channel, discord.abc.Messageable) or flag.message_id is None:
        raise UserInputError("The flagged message's channel is gone; nothing to delete.")
    try:
        await channel.get_partial_message(flag.message_id).delete()
        action = "message deleted"
    except discord.NotFound:
        action = "message was already deleted"
    except discord.HTTPException as exc:
        raise UserInputError(f"Could not delete the message: {describe_failure(exc, 'delete the message')}.") from exc
    return _found(await bot.db.write(lambda s: record_action(s, guild.id, flag.id, actor_id, action)), flag.id)


async def timeout_author(bot: ToxmodBot, guild: discord.Guild, flag: Flag, actor: discord.abc.User,
                         minutes: int) -> Flag:
    if flag.author_id is None:
        raise UserInputError("This flag has no author to time out.")
    member = guild.get_member(flag.author_id)
    try:
        member = member or await guild.fetch_member(flag.author_id)
        await member.timeout(timedelta(minutes=minutes), reason=f"toxmod flag #{flag.id}, by {actor}")
    except discord.NotFound as exc:
        raise UserInputError("The author is no longer a member of this server.") from exc
    except discord.HTTPException as exc:
        raise UserInputError(f"Could not time out the author: {describe_failure(exc, 'time out the author')}.") from exc
    action = f"author timed out {minutes} min"
    return _found(await bot.db.write(lambda s: record_action(s, guild.id, flag.id, actor.id, action, minutes=minutes)),
                  flag.id)


def _found(flag: Flag | None, flag_id: int) -> Flag:
    if flag is None:
        raise NotFoundError(f"No flag #{flag_id} in this server.")
    return flag


# -- button handlers (the Review cog hands the clicks of its DynamicItems here) ------------------------
async def handle_button(interaction: discord.Interaction, action: str, flag_id: int) -> None:
    bot = bot_of(interaction)
    try:
        await _handle_button(bot, interaction, action, flag_id)
    except (NotFoundError, UserInputError) as exc:
        await send_ephemeral(interaction, str(exc))
    except DatabaseUnavailable as exc:
        await send_ephemeral(interaction, nothing_saved(exc))


async def _handle_button(bot: ToxmodBot, interaction: discord.Interaction, action: str, flag_id: int) -> None:
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
    if action == "confirm":  # one click confirms; correcting the labels is optional
        assert flag.verdict_labels is not None  # review_flag sets them on every verdict
        await interaction.followup.send(f"Flag #{flag.id} confirmed as {', '.join(flag.verdict_labels)}. "
                                        "Correct the labels if needed:", view=verdict_view(flag), ephemeral=True)


async def handle_verdict_labels(interaction: discord.Interaction, flag_id: int, labels: list[str]) -> None:
    bot = bot_of(interaction)
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
    assert flag.verdict_labels is not None  # relabel_flag always sets them
    await interaction.edit_original_response(content=f"Flag #{flag.id} labelled {', '.join(flag.verdict_labels)}.",
                                             view=None)
    await refresh_modlog_message(bot, guild, flag)


async def handle_timeout_choice(interaction: discord.Interaction, flag_id: int, minutes: int) -> None:
    bot = bot_of(interaction)
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
    await refresh_modlog_message(bot, guild, flag)
