"""Moderator review: `/flags`, `/scan` and `/stats` (with its chart, bot/moderation/charts.py). What a verdict
does, and the mod-log post it updates, are the mod-log service's, shared with the buttons under each post."""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import ToxmodBot
from bot.discord.checks import MODERATOR, GuardedGroup, guarded, guild_of
from bot.discord.errors import send_ephemeral
from bot.discord.modlog import flag_embed, load_flag, refresh_flag, review, spoiler_safe
from bot.discord.review._pages import FlagPages, flag_line
from bot.labels import LABELS, nearest_line
from bot.moderation.charts import figures_lines, render_png
from bot.moderation.pipeline import Incoming
from bot.storage.messages import MessageRef
from bot.storage.stats import case_counts_since, daily_flags, flag_counts_since, member_history, window_start
from bot.storage.tables import FlagStatus, utcnow

CHART_FILE = "stats.png"
ALT_TEXT_MAX = 1024  # Discord's limit on an attachment's description (its alt text)


class Review(commands.Cog):
    """/flags, /scan and /stats: what moderators review, and the numbers behind it."""

    flags = GuardedGroup(name="flags", description="Review flagged messages", permissions=MODERATOR)

    def __init__(self, bot: ToxmodBot) -> None:
        self.bot = bot

    @flags.command(name="list", description="List flags, newest first")
    @app_commands.describe(status="only flags in this state", member="only this member's", channel="only this channel")
    async def flags_list(self, interaction: discord.Interaction, status: FlagStatus | None = None,
                         member: discord.Member | None = None, channel: discord.TextChannel | None = None) -> None:
        """/flags list: flags, newest first, in pages."""
        query = {"guild_id": guild_of(interaction).id, "status": status,
                 "author_id": member.id if member else None, "channel_id": channel.id if channel else None}
        pages = FlagPages(self.bot, interaction.user.id, query)
        embed = await pages.render()
        await send_ephemeral(interaction, embed=embed, view=pages)

    @flags.command(name="show", description="Show one flag")
    async def flags_show(self, interaction: discord.Interaction, id: int) -> None:
        """/flags show: one flag, with why its mod-log post failed if it did."""
        flag = await load_flag(self.bot, guild_of(interaction).id, id)
        embed = flag_embed(flag)
        if flag.modlog_error:
            embed.add_field(name="Mod-log", value=f"not posted: {flag.modlog_error}", inline=False)
        await send_ephemeral(interaction, embed=embed)

    async def _review(self, interaction: discord.Interaction, id: int, status: FlagStatus, note: str | None) -> None:
        guild = guild_of(interaction)
        flag = await review(self.bot, guild.id, id, status, interaction.user.id, note)
        await send_ephemeral(interaction, f"Flag #{flag.id} {status.value}.", embed=flag_embed(flag))
        await refresh_flag(self.bot, guild, flag)

    @flags.command(name="confirm", description="Confirm a flag: the message broke the rules")
    async def flags_confirm(self, interaction: discord.Interaction, id: int, note: str | None = None) -> None:
        """/flags confirm: the message broke the rules."""
        await self._review(interaction, id, FlagStatus.CONFIRMED, note)

    @flags.command(name="dismiss", description="Dismiss a flag: the message was fine")
    async def flags_dismiss(self, interaction: discord.Interaction, id: int, note: str | None = None) -> None:
        """/flags dismiss: the message was fine."""
        await self._review(interaction, id, FlagStatus.DISMISSED, note)

    @flags.command(name="member", description="A member's flag history and counts")
    async def flags_member(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """/flags member: a member's flag history and counts."""
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
        """/scan: score a text, all six labels and whether it would be flagged here."""
        guild_id = guild_of(interaction).id
        [decision] = await self.bot.moderation.decide([Incoming(MessageRef(guild_id=guild_id), text)])
        if not decision.read:
            await send_ephemeral(interaction, f"Not scored: this reads as `{decision.language}`, a language this "
                                              "server's model does not read (see `/languages show`).")
            return
        lines = (await self.bot.moderation.policy(guild_id)).lines(decision.language)
        embed = discord.Embed(title="Would be flagged" if decision.flagged else "Would not be flagged",
                              description=spoiler_safe(text),
                              colour=discord.Colour.red() if decision.flagged else discord.Colour.green())
        for label in LABELS:
            mark = " ⚑" if label in decision.fired else ""
            embed.add_field(name=label, value=f"{decision.scores[label]:.3f} (threshold "
                                              f"{lines[label]:.2f}){mark}")
        if decision.flagged:
            embed.add_field(name="Top two", value=", ".join(f"{lb} {p:.2f}" for lb, p in decision.top), inline=False)
        else:  # no ranking of labels that nothing came near: see nearest_line
            embed.add_field(name="Closest", value=nearest_line(decision.scores, lines), inline=False)
        embed.set_footer(text=f"model {decision.model_version} · language {decision.language}")
        await send_ephemeral(interaction, embed=embed)

    @app_commands.command(name="stats", description="Flags per day as a chart, messages scored, confirm and "
                                                    "dismiss rates")
    @guarded(**MODERATOR)
    async def stats(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 365] = 7) -> None:
        """/stats: messages scored, flags per label, confirm and dismiss rates, strikes and appeals where the
        escalation ladder was used, and a chart of the flags per day
        with the same figures in words (the embed's text and the image's alt text) for screen readers. The
        period is whole UTC days, today included, so the text and the chart's bars count the same flags."""
        guild = guild_of(interaction)
        today = utcnow().date()
        since = window_start(days, today)
        figures, daily, cases = await self.bot.db.read(lambda s: (
            flag_counts_since(s, guild.id, since), daily_flags(s, guild.id, days, today),
            case_counts_since(s, guild.id, since)))
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
        if cases["strikes"] or any(cases["appeals"].values()):  # only where the escalation ladder was used
            embed.add_field(name="Strikes", value=f"{cases['strikes']} ({cases['withdrawn']} withdrawn)")
            embed.add_field(name="Appeals", value=", ".join(f"{n} {state}" for state, n in cases["appeals"].items()))
        if not daily.flags:
            embed.description = f"No flags in the last {days} days, so no chart."
            await send_ephemeral(interaction, embed=embed)
            return
        words = "\n".join(figures_lines(daily))
        png = await asyncio.to_thread(render_png, daily, f"{guild.name}: flags, last {days} days")
        embed.description = words
        embed.set_image(url=f"attachment://{CHART_FILE}")
        chart = discord.File(io.BytesIO(png), filename=CHART_FILE, description=words[:ALT_TEXT_MAX])
        await send_ephemeral(interaction, embed=embed, file=chart)
