"""What a verdict does beyond itself once a server has an escalation ladder: a confirmed flag's strike and its
step (a warning DM, a timeout, a ban suggested to moderators), and the step undone when the verdict is reversed.

The step is picked and claimed in one transaction (bot/moderation/strikes.py), so it is applied once, by
whichever path claimed it. Every action on a member is checked first against what Discord allows (the
Moderate Members permission, the role hierarchy) and taken in the flag's own guild only; what it did, or
why it could not, is one line on the flag's post. A DM that cannot be delivered is recorded as such and
never retried: the member may have closed their DMs, which is theirs to do.

A step stays claimed until its outcome is recorded: one that Discord failed (a 5xx: it may work in a
minute) or that a crash cut short is tried again by the mod-log delivery (_delivery.py), with the timeout's
end fixed at the claim, so applying it twice is harmless; the warning is sent at most once (`claim_dm`).
After STEP_TRIES tries the step is given up, and the post says so in one line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import discord

from bot.discord.app import ToxmodBot
from bot.discord.modlog._embeds import describe_failure, display_text
from bot.moderation.escalation import StepKind, span
from bot.moderation.strikes import Reversal, StrikePlan, reverse_strike, strike_flag, timeout_still_due
from bot.storage.audit import audit
from bot.storage.cases import StepState
from bot.storage.flags import AUTOMOD
from bot.storage.strikes import DM_SENDING, DM_UNKNOWN, claim_dm, note_step_error, record_step, record_undo
from bot.storage.tables import Flag, FlagStatus

log = logging.getLogger(__name__)

APPEAL_PREFIX = "toxmod:appeal"
QUOTE_LIMIT = 500  # of the flagged text quoted back to the member
TIMEOUT_RAN_OUT = "could not time out the member: the timeout would have ended before a try succeeded"


@dataclass(frozen=True)
class StepOutcome:
    """What a step did: its line for the post, whether it acted on the member, and whether they were told;
    or, with `retry`, why this try did not finish and the next should; `failed`: given up after its tries."""

    result: str
    applied: bool = False
    dm: str | None = None
    retry: str | None = None
    failed: bool = False


class DiscordFailed(Exception):
    """Discord failed a call on its side (a 5xx): the step is worth trying again later."""


def appeal_custom_id(guild_id: int, flag_id: int) -> str:
    """The Appeal button's id under a DM: the case it appeals (the mod-log service's appeals handle it)."""
    return f"{APPEAL_PREFIX}:{guild_id}:{flag_id}"


async def follow_verdict(bot: ToxmodBot, guild_id: int, flag: Flag, actor_id: int) -> Flag:
    """After a verdict: a confirmed flag's strike and step, a reversed one's undone; the flag as it now
    reads. Nothing happens in a guild without a ladder, nor for a strike someone else already acts on."""
    guild = bot.get_guild(guild_id)
    if guild is None or flag.guild_id != guild_id:
        return flag
    if flag.status is FlagStatus.CONFIRMED:
        clock = discord.utils.utcnow()
        plan = await bot.db.write(lambda s: strike_flag(s, guild_id, flag.id, actor_id, clock))
        if plan is None:
            return flag
        return await run_step(bot, guild, flag, plan)
    reversal = await bot.db.write(lambda s: reverse_strike(s, guild_id, flag.id, actor_id))
    if reversal is None:
        return flag
    line = await undo_step(guild, reversal)
    return await bot.db.write(lambda s: record_undo(s, guild_id, flag.id, line)) or flag


async def run_step(bot: ToxmodBot, guild: discord.Guild, flag: Flag, plan: StrikePlan) -> Flag:
    """One try at a claimed step, and its outcome recorded: what it did, or why the next try should come
    (the step stays claimed). An exception leaves it claimed too, for the retries; the flag as it reads."""
    done = await apply_step(bot, guild, flag, plan)
    if (retry := done.retry) is not None:
        log.warning("guild %s: ladder step of flag %d, try %d: %s", guild.id, flag.id, plan.tries, retry)
        return await bot.db.write(lambda s: note_step_error(s, guild.id, flag.id, retry)) or flag
    return await bot.db.write(lambda s: record_step(s, guild.id, flag.id, result=done.result, applied=done.applied,
                                                    dm=done.dm, failed=done.failed)) or flag


async def apply_step(bot: ToxmodBot, guild: discord.Guild, flag: Flag, plan: StrikePlan) -> StepOutcome:
    """Do the step: one line on what it did (or why it could not), whether it acted on the member, and
    one line on telling them (None: not told, for a ban suggestion, the moderators' to act on)."""
    step = plan.step
    counted = plan.counted_line
    if step is None:
        return StepOutcome(f"{counted}: no step")
    if step.kind is StepKind.SUGGEST_BAN:
        return StepOutcome(f"{counted}: suggests a ban (moderators decide; toxmod never bans)")
    try:
        member = await _member(guild, plan.member_id)
    except DiscordFailed as exc:
        if not plan.last_try:
            return StepOutcome("", retry=str(exc))
        return StepOutcome(f"{counted}: {exc} (given up after {plan.tries} tries)", failed=True)
    if member is None:
        return StepOutcome(f"{counted}: the member is no longer in the server")
    applied, done, failed = True, "warned", False
    if step.kind is StepKind.TIMEOUT:
        try:
            failure = await _timeout_step(member, flag, plan, step.minutes)
        except DiscordFailed as exc:
            if not plan.last_try:
                return StepOutcome("", retry=str(exc))
            failure, failed = f"{exc} (given up after {plan.tries} tries)", True
        failed = failed or failure == TIMEOUT_RAN_OUT  # only a retry finds that: given up too
        applied, done = failure is None, failure or f"timed out {span(step.minutes)}"
    timed_out = applied and step.kind is StepKind.TIMEOUT
    dm = await _warn_once(bot, member, flag, plan, timed_out=timed_out)
    return StepOutcome(f"{counted}: {done}", applied, dm, failed=failed)


async def _timeout_step(member: discord.Member, flag: Flag, plan: StrikePlan, minutes: int) -> str | None:
    """The step's timeout, to the end fixed at its claim (so a retry re-applies the same end); None once
    applied, else why not. DiscordFailed: worth another try."""
    until = plan.timeout_until or discord.utils.utcnow() + timedelta(minutes=minutes)
    if until <= discord.utils.utcnow():
        return TIMEOUT_RAN_OUT
    return await _timeout(member.guild, member, until, f"toxmod strike {plan.counted}, flag #{flag.id}", retry=True)


async def _warn_once(bot: ToxmodBot, member: discord.Member, flag: Flag, plan: StrikePlan, *,
                     timed_out: bool) -> str:
    """Send the member the step's warning unless an earlier try sent, or began sending, it: at most once,
    the mark set before sending (a try a crash cut short leaves it unknown whether it arrived)."""
    guild = member.guild
    earlier = await bot.db.write(lambda s: claim_dm(s, guild.id, flag.id))
    if earlier is not None:
        return DM_UNKNOWN if earlier == DM_SENDING else earlier
    return await tell(member, warning_embed(guild, flag, plan, timed_out=timed_out), appeal_view(guild.id, flag.id))


async def undo_step(guild: discord.Guild, reversal: Reversal) -> str:
    """Undo a revoked strike's step: a timeout it applied is lifted, or cut to what the member's other
    strikes still call for; a warning or a suggestion stays said."""
    strike, step = reversal.strike, reversal.step
    # a step still claimed may have timed the member out before it was cut short
    if step is None or step.kind is not StepKind.TIMEOUT or not (strike.applied or strike.state is StepState.CLAIMED):
        return "strike withdrawn"
    reason = f"toxmod: verdict on flag #{strike.flag_id} reversed"
    return f"strike withdrawn; {await _release(guild, strike.member_id, reversal.timeout_still_due, reason)}"


async def notify_automod(bot: ToxmodBot, guild: discord.Guild, flag: Flag, actions: list[str]) -> None:
    """Tell the member what automod did to them, with Appeal, where the server has a ladder (off by
    default: without one members are told nothing, as before); whether the DM arrived is audited."""
    config = await bot.moderation.guild_config(guild.id)
    if not actions or not config.escalation.enabled or not flag.author_id:
        return
    try:
        member = await _member(guild, flag.author_id)
    except DiscordFailed as exc:
        dm = f"undeliverable: {exc}"
        await bot.db.write(lambda s: audit(s, guild.id, None, "automod_dm", flag.id, member_id=flag.author_id, dm=dm))
        return
    if member is None:
        return
    embed = discord.Embed(title=f"toxmod's automatic moderation in {guild.name} acted on your message",
                          colour=discord.Colour.orange(), description="; ".join(actions).capitalize() + ".")
    quoted = flag.text
    embed.add_field(name="What was flagged", inline=False,
                    value=display_text(quoted, QUOTE_LIMIT, 1000) if quoted else "*(the text is no longer stored)*")
    embed.add_field(name="Appeal", inline=False,
                    value="If you think this is a mistake, press Appeal (once for this case).")
    embed.set_footer(text=f"{guild.name} · case {flag.id}")
    dm = await tell(member, embed, appeal_view(guild.id, flag.id))
    await bot.db.write(lambda s: audit(s, guild.id, None, "automod_dm", flag.id, member_id=member.id, dm=dm))


async def lift_automod_timeout(bot: ToxmodBot, guild: discord.Guild, flag: Flag) -> str | None:
    """After an accepted appeal: a timeout automod applied for the flag is lifted, or cut to what the
    member's strikes that still count call for (audited); what was done, or None if automod timed no one out."""
    if flag.author_id is None or f"min {AUTOMOD}" not in (flag.action_taken or ""):
        return None
    member_id = flag.author_id
    due = await bot.db.read(lambda s: timeout_still_due(s, guild.id, member_id))
    line = "automod's " + await _release(guild, member_id, due, f"toxmod: appeal of flag #{flag.id} accepted")
    await bot.db.write(lambda s: audit(s, guild.id, None, "automod_timeout_undone", flag.id, member_id=member_id,
                                       result=line))
    return line


async def _release(guild: discord.Guild, member_id: int, due: timedelta | None, reason: str) -> str:
    """End the member's timeout, or cut it to `due` from now (what strikes still counting call for)."""
    try:
        member = await _member(guild, member_id)
    except DiscordFailed as exc:
        return f"timeout: {exc}"
    if member is None:
        return "timeout: the member is no longer in the server"
    if member.timed_out_until is None or member.timed_out_until <= discord.utils.utcnow():
        return "timeout had ended"
    until = None if due is None else discord.utils.utcnow() + due
    if until is not None and until >= member.timed_out_until:
        return "timeout stays, as another strike calls for it"
    failure = await _timeout(guild, member, until, reason)
    done = "timeout lifted" if until is None else f"timeout cut to end {discord.utils.format_dt(until, 'R')}"
    return failure or done


def timeout_refusal(guild: discord.Guild, member: discord.Member) -> str | None:
    """Why Discord would refuse the bot timing out this member, if it would: checked before asking."""
    me = guild.me
    if not me.guild_permissions.moderate_members:
        return "I lack the Moderate Members permission"
    if member.id == guild.owner_id or member.guild_permissions.administrator:
        return "the member owns or administers the server"
    if member.top_role >= me.top_role:
        return "the member's highest role is not below mine"
    return None


async def _timeout(guild: discord.Guild, member: discord.Member, until: timedelta | datetime | None,
                   reason: str, *, retry: bool = False) -> str | None:
    """Time the member out in this guild for a while or until a time (None: lift their timeout); None
    once done, else why not. With `retry`, a failure on Discord's side raises DiscordFailed instead."""
    what = "time out the member" if until else "lift the timeout"
    refusal = timeout_refusal(guild, member)
    if refusal is not None:
        return f"could not {what}: {refusal}"
    try:
        await member.timeout(until, reason=reason)
    except discord.HTTPException as exc:
        line = f"could not {what}: {describe_failure(exc, what)}"
        if retry and exc.status >= 500:  # Discord's side failed, not the request
            raise DiscordFailed(line) from exc
        return line
    return None


async def _member(guild: discord.Guild, member_id: int) -> discord.Member | None:
    """The member, or None once Discord says they are not in the server. DiscordFailed when Discord could not
    say (a 5xx, say): that is not the member leaving, and a step taken on it would be skipped for good."""
    member = guild.get_member(member_id)
    if member is not None:
        return member
    try:
        return await guild.fetch_member(member_id)
    except discord.NotFound:
        return None
    except discord.HTTPException as exc:
        raise DiscordFailed(f"could not look the member up: {describe_failure(exc, 'look the member up')}") from exc


async def tell(user: discord.User | discord.Member, embed: discord.Embed,
               view: discord.ui.View | None = None) -> str:
    """DM a member once: "sent", or why it could not be (recorded, never retried)."""
    try:
        await user.send(embed=embed, view=view or discord.utils.MISSING)
    except discord.HTTPException as exc:
        log.info("could not DM %s: %s", user.id, describe_failure(exc, "send them a DM"))
        return f"undeliverable: {describe_failure(exc, 'send the member a DM')}"
    return "sent"


async def tell_user(bot: ToxmodBot, user_id: int, embed: discord.Embed) -> str:
    """`tell` a user known by id (who may have left every server the bot shares with them)."""
    try:
        user = bot.get_user(user_id) or await bot.fetch_user(user_id)
    except discord.HTTPException as exc:
        return f"undeliverable: {describe_failure(exc, 'find the member')}"
    return await tell(user, embed)


def appeal_view(guild_id: int, flag_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Appeal", style=discord.ButtonStyle.primary,
                                    custom_id=appeal_custom_id(guild_id, flag_id)))
    return view


def warning_embed(guild: discord.Guild, flag: Flag, plan: StrikePlan, *, timed_out: bool) -> discord.Embed:
    """The member's DM: what was flagged, which rule, what the ladder did (a timeout only if it was applied)
    and does next, and the appeal."""
    step = plan.step
    assert step is not None  # noqa: S101 - narrows for mypy: only a warning or a timeout is told
    rules = ("flooding (the same message again and again)" if flag.is_episode
             else ", ".join(flag.verdict_labels or flag.labels or ["toxic"]).replace("_", " "))
    now = f"You are timed out for {span(step.minutes)}." if timed_out else "This is a warning."
    later = plan.next_step.describe() if plan.next_step else "nothing more"
    embed = discord.Embed(title=f"A moderator of {guild.name} confirmed a flag on your message",
                          colour=discord.Colour.orange(),
                          description=f"{now} This is strike {plan.counted} in the last {plan.decay_days} days.")
    quoted = flag.text
    embed.add_field(name="What was flagged", value=display_text(quoted, QUOTE_LIMIT, 1000) if quoted
                    else "*(the text is no longer stored)*", inline=False)
    embed.add_field(name="Rule", value=f"{rules}: not allowed in {guild.name}", inline=False)
    embed.add_field(name="What happens next", inline=False,
                    value=f"Another strike within {plan.decay_days} days: {later}.")
    embed.add_field(name="Appeal", inline=False,
                    value="If you think this is a mistake, press Appeal (once for this case).")
    embed.set_footer(text=f"{guild.name} · case {flag.id}")
    return embed
