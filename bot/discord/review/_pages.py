"""`/flags list` and `/flags member` show flags one line each; the list pages through them."""

from __future__ import annotations

import discord

from bot.discord.app import ToxmodBot
from bot.discord.errors import acknowledge
from bot.discord.modlog import shown_labels
from bot.storage.flags import list_flags
from bot.storage.tables import Flag

PAGE = 10


def flag_line(flag: Flag) -> str:
    when = discord.utils.format_dt(flag.created_at, "R") if flag.created_at else ""
    if flag.is_episode:
        figures = flag.episode or {}
        who = f"<@{flag.author_id}>" if flag.author_id else f"{figures.get('members', '?')} new members"
        return (f"**#{flag.id}** {flag.status.value} · {flag.kind.value}, {figures.get('messages', '?')} messages · "
                f"{who} from <#{flag.channel_id}> {when}")
    top = (shown_labels(flag) or [("?", 0.0)])[0]
    return (f"**#{flag.id}** {flag.status.value} · {top[0]} {top[1]:.2f} · <@{flag.author_id}> in "
            f"<#{flag.channel_id}> {when}")


class FlagPages(discord.ui.View):
    """Previous / Next over a `/flags list` result, for the moderator who asked (ephemeral)."""

    def __init__(self, bot: ToxmodBot, owner_id: int, query: dict) -> None:
        super().__init__(timeout=300)
        self.bot, self.owner_id, self.query, self.total, self.page = bot, owner_id, query, 0, 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE))

    async def render(self) -> discord.Embed:
        """The current page, with Previous/Next enabled only where there is a page to go to."""
        offset = self.page * PAGE
        flags, self.total = await self.bot.db.read(lambda s: list_flags(s, offset=offset, limit=PAGE, **self.query))
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1
        embed = discord.Embed(title=f"Flags ({self.total})", colour=discord.Colour.blurple(),
                              description="\n".join(flag_line(f) for f in flags) or "No flags match.")
        embed.set_footer(text=f"page {self.page + 1} of {self.pages}")
        return embed

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return interaction.user.id == self.owner_id

    async def _turn(self, interaction: discord.Interaction, step: int) -> None:
        self.page = min(max(self.page + step, 0), self.pages - 1)
        await acknowledge(interaction)
        embed = await self.render()
        await interaction.edit_original_response(embed=embed, view=self)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, _button: discord.ui.Button) -> None:
        await self._turn(interaction, +1)
