"""The one error handler for application commands, and the permission checks every group runs.

`default_member_permissions` only hides commands in the client; a server can override it and a client
can be forged, so each group also checks permissions at run time. Failures a user can act on get an
ephemeral answer; anything else is logged with its traceback and the user gets a short apology.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.storage.errors import DatabaseUnavailable

log = logging.getLogger(__name__)


class NotFoundError(app_commands.AppCommandError):
    """Something the user named does not exist here (a flag id of another guild looks exactly like this)."""


class NotOwner(app_commands.CheckFailure):
    """A process-wide control was used by someone who does not own the bot."""


class UserInputError(app_commands.AppCommandError):
    """The user gave a value the command cannot use; the message says which and why."""


def missing_permissions(interaction: discord.Interaction, **perms: bool) -> list[str]:
    """The permissions in `perms` that the member lacks where the command was used."""
    have = interaction.permissions
    return [name for name, wanted in perms.items() if wanted and not getattr(have, name)]


def require(interaction: discord.Interaction, **perms: bool) -> None:
    """Raise MissingPermissions unless the member has every permission asked for, here, right now."""
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    missing = missing_permissions(interaction, **perms)
    if missing:
        raise app_commands.MissingPermissions(missing)


class ToxmodTree(app_commands.CommandTree):
    """The command tree with one error handler: a user error is answered in one ephemeral line, the rest logged."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Answer a failed command in one ephemeral line that says what to do; log what is not the user's doing."""
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.MissingPermissions):
            names = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
            message = f"You need the {names} permission to do that."
        elif isinstance(error, app_commands.NoPrivateMessage):
            message = "This command only works in a server."
        elif isinstance(error, (NotFoundError, UserInputError)):
            message = str(error)
        elif isinstance(original, DatabaseUnavailable):
            log.warning("command failed, database unavailable: %s", original)
            message = nothing_saved(original)
        elif isinstance(error, NotOwner):
            message = str(error)
        elif isinstance(error, app_commands.CheckFailure):
            message = "You can't use this command here."
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", command, exc_info=original)
            message = "Something went wrong on our side; it has been logged."
        await send_ephemeral(interaction, message)


def nothing_saved(exc: DatabaseUnavailable) -> str:
    """The answer when a command's change could not be written: nothing was saved, try again."""
    return f"Nothing was saved: {exc}. Please try again in a moment."


async def send_ephemeral(interaction: discord.Interaction, message: str | None = None, *,
                         embed: discord.Embed | None = None, view: discord.ui.View | None = None,
                         file: discord.File | None = None) -> None:
    """Answer privately, whether or not the interaction was already acknowledged (commands are deferred
    before they touch the database, see `acknowledge`); never raise."""
    extra: dict = {k: v for k, v in (("embed", embed), ("view", view), ("file", file)) if v is not None}
    try:
        if interaction.response.is_done():
            content = discord.utils.MISSING if message is None else message
            await interaction.followup.send(content, ephemeral=True, **extra)
        else:
            await interaction.response.send_message(message, ephemeral=True, **extra)
    except discord.HTTPException:
        log.warning("could not tell %s: %s", interaction.user, message)


async def acknowledge(interaction: discord.Interaction) -> None:
    """Tell Discord "working on it" within its 3 s limit, before anything that may wait (a locked database,
    a scoring backlog): a command answers privately later; a component click edits its message later."""
    if interaction.response.is_done():
        return
    if interaction.type is discord.InteractionType.component:
        await interaction.response.defer()
    else:
        await interaction.response.defer(ephemeral=True, thinking=True)
