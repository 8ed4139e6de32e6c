"""Command groups that hide themselves from members without a permission and check it again at run time."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord.errors import require


class GuardedGroup(app_commands.Group):
    """An app command group with `default_member_permissions` set and the same permissions re-checked on use."""

    def __init__(self, *, name: str, description: str, permissions: dict[str, bool]) -> None:
        super().__init__(name=name, description=description, guild_only=True,
                         default_permissions=discord.Permissions(**permissions))
        self.required = permissions

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        require(interaction, **self.required)
        return True


def guild_of(interaction: discord.Interaction) -> discord.Guild:
    """The guild of a guild-only command or of a view under one. Every group and command here is guild-only
    and its check (`require`) refuses an interaction without a guild before the command runs; raising the
    same error keeps a command body from ever seeing None."""
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild


MODERATOR = {"manage_messages": True}
ADMIN = {"manage_guild": True}


def guarded(**permissions: bool):
    """The same for a top-level command: hidden without the permissions, and refused at run time."""

    def check(interaction: discord.Interaction) -> bool:
        require(interaction, **permissions)
        return True

    def decorator(func):
        func = app_commands.default_permissions(**permissions)(func)
        func = app_commands.guild_only()(func)
        return app_commands.check(check)(func)

    return decorator
