"""The SimCord world the Discord tests act in: two guilds, their channels, roles and members."""

from __future__ import annotations

from dataclasses import dataclass

import simcord


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
