"""`/appeals list`: the appeals waiting for a moderator, oldest first, each with a jump to its post (where
Accept and Reject are)."""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.discord.app import ToxmodBot
from bot.discord.checks import MODERATOR, GuardedGroup, guild_of
from bot.discord.errors import send_ephemeral
from bot.storage.appeals import open_appeals
from bot.storage.cases import Appeal

SHOWN = 20


def appeal_line(appeal: Appeal) -> str:
    """One open appeal: its number, its case, who appealed and when, and a jump to its post."""
    when = discord.utils.format_dt(appeal.created_at, "R") if appeal.created_at else ""
    line = f"**#{appeal.id}** · flag #{appeal.flag_id} · <@{appeal.member_id}> {when}"
    if appeal.modlog_channel_id and appeal.modlog_message_id:
        line += (f" · [post](https://discord.com/channels/{appeal.guild_id}/{appeal.modlog_channel_id}/"
                 f"{appeal.modlog_message_id})")
    return line


class Appeals(commands.Cog):
    """/appeals list: what members appealed and moderators have not decided yet."""

    appeals = GuardedGroup(name="appeals", description="Members' appeals of the escalation ladder's actions",
                           permissions=MODERATOR)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot

    @appeals.command(name="list", description="Open appeals, oldest first")
    async def appeals_list(self, interaction: discord.Interaction) -> None:
        """/appeals list: the open appeals, the longest waiting first."""
        guild_id = guild_of(interaction).id
        shown, total = await self.bot.db.read(lambda s: open_appeals(s, guild_id, SHOWN))
        embed = discord.Embed(title=f"Open appeals ({total})", colour=discord.Colour.blurple(),
                              description="\n".join(appeal_line(a) for a in shown) or "No open appeals.")
        if total > len(shown):
            embed.set_footer(text=f"the {len(shown)} oldest of {total}")
        await send_ephemeral(interaction, embed=embed)
