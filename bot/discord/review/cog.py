"""Moderator review: `/flags`, `/scan` and `/stats`, and the clicks on the mod-log buttons this package owns."""

from __future__ import annotations

import logging
from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.discord.app import ToxmodBot
from bot.discord.checks import MODERATOR, GuardedGroup, guarded, guild_of
from bot.discord.errors import acknowledge, send_ephemeral
from bot.discord.review import actions
from bot.discord.review.actions import load_flag, review
from bot.discord.review.embeds import flag_embed, shown_labels, spoiler_safe
from bot.discord.review.modlog import publish_flag, refresh_modlog_message
from bot.labels import LABELS, nearest_line
from bot.moderation.pipeline import Incoming
from bot.storage.database import DatabaseError
from bot.storage.models import Flag, FlagStatus, utcnow
from bot.storage.repository import (
    MessageRef,
    flag_counts_since,
    flags_due_for_posting,
    list_flags,
    member_history,
)

PAGE = 10
DELIVERY_INTERVAL = 15.0  # seconds between looks for flags whose mod-log post is due again
DELIVERY_BATCH = 50
log = logging.getLogger(__name__)


def flag_line(flag: Flag) -> str:
    top = (shown_labels(flag) or [("?", 0.0)])[0]
    when = discord.utils.format_dt(flag.created_at, "R") if flag.created_at else ""
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


class Review(commands.Cog):
    flags = GuardedGroup(name="flags", description="Review flagged messages", permissions=MODERATOR)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot
        self.deliver.start()

    async def cog_unload(self) -> None:
        self.deliver.cancel()

    @tasks.loop(seconds=DELIVERY_INTERVAL)
    async def deliver(self) -> None:
        """Flags whose mod-log post failed (any error: missing permission, deleted channel, rate limit,
        outage) are retried until posted, each on its own backoff (see `set_modlog_post`)."""
        guild_ids = [guild.id for guild in self.bot.guilds]
        if not guild_ids:
            return
        try:
            now = discord.utils.utcnow()
            due = await self.bot.db.read(lambda s: flags_due_for_posting(s, guild_ids, DELIVERY_BATCH, now))
        except DatabaseError as exc:
            log.warning("mod-log delivery skipped: %s", exc)
            return
        for flag in due:
            guild = self.bot.get_guild(flag.guild_id) if flag.guild_id else None
            if guild is not None:
                await publish_flag(self.bot, guild, flag)

    @deliver.before_loop
    async def _ready(self) -> None:
        await self.bot.wait_until_ready()

    @flags.command(name="list", description="List flags, newest first")
    @app_commands.describe(status="only flags in this state", member="only this member's", channel="only this channel")
    async def flags_list(self, interaction: discord.Interaction, status: FlagStatus | None = None,
                         member: discord.Member | None = None, channel: discord.TextChannel | None = None) -> None:
        query = {"guild_id": guild_of(interaction).id, "status": status,
                 "author_id": member.id if member else None, "channel_id": channel.id if channel else None}
        pages = FlagPages(self.bot, interaction.user.id, query)
        embed = await pages.render()
        await send_ephemeral(interaction, embed=embed, view=pages)

    @flags.command(name="show", description="Show one flag")
    async def flags_show(self, interaction: discord.Interaction, id: int) -> None:
        flag = await load_flag(self.bot, guild_of(interaction).id, id)
        embed = flag_embed(flag)
        if flag.modlog_error:
            embed.add_field(name="Mod-log", value=f"not posted: {flag.modlog_error}", inline=False)
        await send_ephemeral(interaction, embed=embed)

    async def _review(self, interaction: discord.Interaction, id: int, status: FlagStatus, note: str | None) -> None:
        guild = guild_of(interaction)
        flag = await review(self.bot, guild.id, id, status, interaction.user.id, note)
        await send_ephemeral(interaction, f"Flag #{flag.id} {status.value}.", embed=flag_embed(flag))
        await refresh_modlog_message(self.bot, guild, flag)

    @flags.command(name="confirm", description="Confirm a flag: the message broke the rules")
    async def flags_confirm(self, interaction: discord.Interaction, id: int, note: str | None = None) -> None:
        await self._review(interaction, id, FlagStatus.CONFIRMED, note)

    @flags.command(name="dismiss", description="Dismiss a flag: the message was fine")
    async def flags_dismiss(self, interaction: discord.Interaction, id: int, note: str | None = None) -> None:
        await self._review(interaction, id, FlagStatus.DISMISSED, note)

    @flags.command(name="member", description="A member's flag history and counts")
    async def flags_member(self, interaction: discord.Interaction, member: discord.Member) -> None:
        guild_id = guild_of(interaction).id
        history = await self.bot.db.read(lambda s: member_history(s, guild_id, member.id))
        counts = ", ".join(f"{n} {status}" for status, n in history["by_status"].items())
        embed = discord.Embed(title=f"History of {member.display_name}", colour=discord.Colour.blurple(),
                              description="\n".join(flag_line(f) for f in history["latest"]) or "No flags.")
        embed.add_field(name="Messages scored", value=str(history["scored"]))
        embed.add_field(name="Flags", value=f"{history['flags']} ({counts})")
        await send_ephemeral(interaction, embed=embed)

    @app_commands.command(name="scan", description="Score a text: all six labels and whether it would be flagged")
    @guarded(**MODERATOR)
    async def scan(self, interaction: discord.Interaction, text: app_commands.Range[str, 1, 4000]) -> None:
        guild_id = guild_of(interaction).id
        [decision] = await self.bot.moderation.decide([Incoming(MessageRef(guild_id=guild_id), text)])
        if not decision.read:
            await send_ephemeral(interaction, f"Not scored: this reads as `{decision.language}`, a language this "
                                              "server's model does not read (see `/languages show`).")
            return
        policy = await self.bot.moderation.policy(guild_id)
        embed = discord.Embed(title="Would be flagged" if decision.flagged else "Would not be flagged",
                              description=spoiler_safe(text),
                              colour=discord.Colour.red() if decision.flagged else discord.Colour.green())
        for label in LABELS:
            mark = " ⚑" if label in decision.fired else ""
            embed.add_field(name=label, value=f"{decision.scores[label]:.3f} (threshold "
                                              f"{policy.thresholds[label]:.2f}){mark}")
        if decision.flagged:
            embed.add_field(name="Top two", value=", ".join(f"{lb} {p:.2f}" for lb, p in decision.top), inline=False)
        else:  # no ranking of labels that nothing came near: see nearest_line
            embed.add_field(name="Closest", value=nearest_line(decision.scores, policy.thresholds), inline=False)
        embed.set_footer(text=f"model {decision.model_version} · language {decision.language}")
        await send_ephemeral(interaction, embed=embed)

    @app_commands.command(name="stats", description="Messages scored, flags per label, confirm and dismiss rates")
    @guarded(**MODERATOR)
    async def stats(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 365] = 7) -> None:
        since, guild_id = utcnow() - timedelta(days=days), guild_of(interaction).id
        figures = await self.bot.db.read(lambda s: flag_counts_since(s, guild_id, since))
        embed = discord.Embed(title=f"Last {days} days", colour=discord.Colour.blurple())
        embed.add_field(name="Messages scored", value=str(figures["scored"]))
        embed.add_field(name="Flags", value=str(figures["flags"]))
        embed.add_field(name="Reviewed", value=str(figures["reviewed"]))
        rate = figures["confirm_rate"]
        embed.add_field(name="Confirmed", value="n/a" if rate is None else f"{100 * rate:.0f}%")
        rate = figures["dismiss_rate"]
        embed.add_field(name="Dismissed", value="n/a" if rate is None else f"{100 * rate:.0f}%")
        embed.add_field(name="Flags per label", inline=False,
                        value="\n".join(f"{label}: {n}" for label, n in figures["per_label"].items()))
        await send_ephemeral(interaction, embed=embed)

    # -- the mod-log's buttons and selects (views.py) hand their clicks to these ---------------------------
    async def handle_button(self, interaction: discord.Interaction, action: str, flag_id: int) -> None:
        await actions.handle_button(interaction, action, flag_id)

    async def handle_verdict_labels(self, interaction: discord.Interaction, flag_id: int, labels: list[str]) -> None:
        await actions.handle_verdict_labels(interaction, flag_id, labels)

    async def handle_timeout_choice(self, interaction: discord.Interaction, flag_id: int, minutes: int) -> None:
        await actions.handle_timeout_choice(interaction, flag_id, minutes)
