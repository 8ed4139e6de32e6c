"""Command groups that hide themselves from members without a permission, check it again at run time, and
acknowledge the interaction before the command body runs (every command here reads or writes the
database, which may be busy for longer than Discord's 3 s)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.discord.app import bot_of
from bot.discord.errors import NotOwner, acknowledge, require

CommandT = TypeVar("CommandT", bound=Callable[..., Any])


class GuardedGroup(app_commands.Group):
    """An app command group with `default_member_permissions` set and the same permissions re-checked on use."""

    def __init__(self, *, name: str, description: str, permissions: dict[str, bool]) -> None:
        super().__init__(name=name, description=description, guild_only=True,
                         default_permissions=discord.Permissions(**permissions))
        self.required = permissions

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Refuse a member without the group's permissions, then acknowledge before the command runs."""
        require(interaction, **self.required)
        await acknowledge(interaction)
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


def guarded(**permissions: bool) -> Callable[[CommandT], CommandT]:
    """The same for a top-level command: hidden without the permissions, and refused at run time."""

    async def check(interaction: discord.Interaction) -> bool:
        require(interaction, **permissions)
        await acknowledge(interaction)
        return True

    def decorator(func: CommandT) -> CommandT:
        func = app_commands.default_permissions(**permissions)(func)
        func = app_commands.guild_only()(func)
        return app_commands.check(check)(func)

    return decorator


OWNER_ONLY = "Only the bot's owner can do that: it changes the model every server uses."


async def is_owner(interaction: discord.Interaction) -> bool:
    """The OWNER_IDS setting, or else the application's owner or team as Discord reports them."""
    bot = bot_of(interaction)
    if bot.settings.owners:
        return interaction.user.id in bot.settings.owners
    try:
        return await bot.is_owner(interaction.user)
    except discord.HTTPException:
        return False


async def require_owner(interaction: discord.Interaction) -> None:
    """Refuse anyone but the bot's owner (OWNER_IDS, or the application's owner) in one ephemeral line."""
    if not await is_owner(interaction):
        raise NotOwner(OWNER_ONLY)
