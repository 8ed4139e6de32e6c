"""The one error handler for application commands, and the permission checks every group runs.

`default_member_permissions` only hides commands in the client; a server can override it and a client
can be forged, so each group also checks permissions at run time. Failures a user can act on get an
ephemeral answer; anything else is logged with its traceback and the user gets a short apology.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

log = logging.getLogger(__name__)


class NotFoundError(app_commands.AppCommandError):
    """Something the user named does not exist here (a flag id of another guild looks exactly like this)."""


class UserInputError(app_commands.AppCommandError):
    """The user gave a value the command cannot use; the message says which and why."""


def missing_permissions(interaction: discord.Interaction, **perms: bool) -> list[str]:
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
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        original = getattr(error, "original", error)
        if isinstance(error, app_commands.MissingPermissions):
            names = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
            message = f"You need the {names} permission to do that."
        elif isinstance(error, app_commands.NoPrivateMessage):
            message = "This command only works in a server."
        elif isinstance(error, (NotFoundError, UserInputError)):
            message = str(error)
        elif isinstance(error, app_commands.CheckFailure):
            message = "You can't use this command here."
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", command, exc_info=original)
            message = "Something went wrong on our side; it has been logged."
        await send_ephemeral(interaction, message)


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Answer once, whether or not the interaction was already responded to; never raise."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell %s: %s", interaction.user, message)
