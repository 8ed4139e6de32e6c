"""The SimCord world the Discord tests act in: two guilds, their channels, roles and members."""

from __future__ import annotations

from dataclasses import dataclass

import simcord
from sqlalchemy import select

from bot.storage.tables import Flag, ScoredMessage


@dataclass(frozen=True)
class World:
    """Made by the `world` fixture: guild `g` with its mod-log set, and a second guild `other` beside it."""

    env: simcord.Env
    g: simcord.GuildHandle
    general: simcord.ChannelHandle
    modlog: simcord.ChannelHandle
    alice: simcord.MemberActor
    bob: simcord.MemberActor
    mod: simcord.MemberActor  # has the Mods role: Manage Messages, Moderate Members
    admin: simcord.MemberActor  # has the Admins role: Manage Server
    mods: simcord.RoleHandle
    other: simcord.GuildHandle
    other_general: simcord.ChannelHandle
    other_mod: simcord.MemberActor  # Manage Messages in `other` only
    other_member: simcord.MemberActor

    def flags(self) -> list[Flag]:
        """Every flag in the bot's database, oldest first."""
        with self.env.bot.db.sessions() as s:
            return list(s.scalars(select(Flag).order_by(Flag.id)))

    def scored(self) -> list[ScoredMessage]:
        """Every scored-message row in the bot's database, oldest first."""
        with self.env.bot.db.sessions() as s:
            return list(s.scalars(select(ScoredMessage).order_by(ScoredMessage.id)))
