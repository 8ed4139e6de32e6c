"""What moderators are shown: member text that cannot lie or format the embed, and failures described as
the action that failed, not always as a mod-log problem."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import discord
import pytest
import simcord

from bot.discord.modlog._embeds import DESCRIPTION_ROOM, TEXT_LIMIT, describe_failure, spoiler_safe
from bot.labels import LABELS, nearest_line
from tests.support.world import World

TOXIC = "you are a stupid idiot"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"



def unescaped(shown: str) -> str:
    """What Discord renders of escaped text: a backslash before punctuation shows only the punctuation."""
    out, chars = [], iter(shown)
    for ch in chars:
        out.append(next(chars) if ch == "\\" else ch)
    return "".join(out)


def private_answer(res: simcord.InteractionResult) -> simcord.ResponseMessage:
    """The last thing only the clicker saw: the response itself, or the follow-up to an acknowledged click
    (whose `response` is then the message clicked)."""
    return [m for m in [res.response, *res.followups] if m is not None and m.ephemeral][-1]


def http_error(kind: type[discord.HTTPException], status: int, code: int) -> discord.HTTPException:
    return kind(SimpleNamespace(status=status, reason="test"), {"code": code, "message": "from Discord"})


# -- the text as typed, and nothing more ----------------------------------------------------------------
def test_masked_link_across_a_newline_is_shown_as_text() -> None:
    shown = spoiler_safe("[free\nnitro](https://evil.example)")
    body = shown.removeprefix("||").removesuffix("||")
    assert body == "\\[free\nnitro\\]\\(https://evil.example\\)"  # no "](" left to make a link
    assert unescaped(body) == "[free\nnitro](https://evil.example)"


@pytest.mark.parametrize("char", [*BIDI, "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\ufeff"])
def test_bidi_and_control_characters_are_shown_as_code_points(char: str) -> None:
    shown = spoiler_safe(f"gg{char}wp")
    assert char not in shown and f"⟨U+{ord(char):04X}⟩" in shown


def test_reversed_text_reads_in_typed_order() -> None:
    """U+202E would show "gnp.exe" as "exe.png": the moderator sees the override, then the real order."""
    assert spoiler_safe("photo\u202egnp.exe") == "||photo⟨U+202E⟩gnp\\.exe||"


def test_newlines_stay_and_emoji_joiners_are_kept() -> None:
    assert spoiler_safe("one\r\ntwo\u2028three") == "||one\ntwo\nthree||"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji, three people joined by U+200D
    assert spoiler_safe(family) == f"||{family}||"


@pytest.mark.parametrize(
    "text",
    ["||free nitro||", "ends with a backslash \\", "**bold** __under__ ~~gone~~ `code`", "# heading\n> quote\n-# small",
     "@everyone <@123456789012345678> <@&1> <#2> <:pog:3> <t:0:R> @here", "1. numbered\n- listed"],
)
def test_markdown_and_mentions_never_form(text: str) -> None:
    body = spoiler_safe(text).removeprefix("||").removesuffix("||")
    assert "||" not in body.replace("\\|", "")
    assert unescaped(body) == text
    for char in "|*_~`#>-<@:":
        assert char not in body.replace(f"\\{char}", "")


def test_url_is_shown_as_typed_but_cannot_close_the_spoiler() -> None:
    body = spoiler_safe("see https://example.com/a_b?x=1||@everyone").removeprefix("||").removesuffix("||")
    assert body == "see https://example.com/a_b?x=1%7C%7C@everyone"  # the same address, no "||"


def test_long_or_heavily_escaped_text_fits_the_description() -> None:
    for text in ["x" * 5000, "\u202e" * 2000, "[]" * 2000]:
        shown = spoiler_safe(text)
        assert len(shown) <= DESCRIPTION_ROOM + 5 and shown.startswith("||") and shown.endswith("…||")
        assert not shown.removesuffix("…||").endswith("\\")  # never a cut escape
    assert len(spoiler_safe("x" * TEXT_LIMIT)) == TEXT_LIMIT + 4  # exactly the limit: shown whole, no "…"


async def test_hostile_text_in_the_modlog_embed_is_inert(world: World) -> None:
    text = f"[free\nnitro](https://evil.example) @everyone \u202e{TOXIC} {TOXIC} {TOXIC}"
    await world.alice.send(world.general, text)
    [flag] = world.flags()
    embed = world.modlog.last_message.embeds[0]
    assert "\u202e" not in embed.description and "⟨U+202E⟩" in embed.description
    assert "\\[free\nnitro\\]\\(https://evil.example\\)" in embed.description
    assert "\\@everyone" in embed.description
    assert unescaped(embed.description.replace("⟨U+202E⟩", "\u202e")) == f"||{flag.text}||"


async def test_moderator_note_is_shown_inert(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    await world.mod.slash(world.general, "flags confirm", id=flag.id, note="[see](https://evil.example) \u202eok")
    status = {f.name: f.value for f in world.modlog.last_message.embeds[0].fields}["Status"]
    assert "\\[see\\]\\(https://evil.example\\) ⟨U+202E⟩ok" in status


async def test_scan_echoes_the_text_inert(world: World) -> None:
    res = await world.mod.slash(world.general, "scan", text="[a\nb](https://evil.example) \u2066x")
    description = res.response.embeds[0].description
    assert description == "||\\[a\nb\\]\\(https://evil.example\\) ⟨U+2066⟩x||"


async def test_scan_of_a_quiet_message_ranks_no_labels(world: World) -> None:
    """Below every line, the two labels least far below their own were shown as "Top two": on "gg wp",
    `threat` first, for a message nobody would call a threat."""
    res = await world.mod.slash(world.general, "scan", text=TOXIC)
    fields = {f.name: f.value for f in res.response.embeds[0].fields}
    assert "Top two" in fields and "Closest" not in fields
    for quiet in ("gg wp", "hello friend see you at the raid tonight"):
        res = await world.mod.slash(world.general, "scan", text=quiet)
        embed = res.response.embeds[0]
        fields = {f.name: f.value for f in embed.fields}
        assert embed.title == "Would not be flagged" and "Top two" not in fields
        scores = {label: float(fields[label].split()[0]) for label in LABELS}
        thresholds = {label: float(fields[label].split("threshold ")[1].rstrip(")")) for label in LABELS}
        assert fields["Closest"] == "nothing near a line" or fields["Closest"].startswith("nearest: ")
        assert fields["Closest"].split()[0] == nearest_line(scores, thresholds).split()[0]


# -- the failure named after the action ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "exc", "expected"),
    [
        ("delete the message", http_error(discord.Forbidden, 403, 50013), "missing permission to delete the message"),
        ("time out the author", http_error(discord.Forbidden, 403, 50013),
         "missing permission to time out the author"),
        ("post in the mod-log channel", http_error(discord.Forbidden, 403, 50001),
         "missing permission to post in the mod-log channel"),
        ("delete the message", http_error(discord.NotFound, 404, 10008), "the message no longer exists"),
        ("post in the mod-log channel", http_error(discord.NotFound, 404, 10003), "the channel no longer exists"),
        ("time out the author", http_error(discord.NotFound, 404, 10007), "the member is no longer in the server"),
        ("edit the mod-log post", http_error(discord.NotFound, 404, 0),
         "Discord found nothing to edit the mod-log post"),
        ("post the retrain report", http_error(discord.HTTPException, 500, 0), "Discord answered 500: from Discord"),
        ("post in the mod-log channel", LookupError("no mod-log channel is set"), "no mod-log channel is set"),
    ],
)
def test_failure_is_described_as_the_action_that_failed(action: str, exc: Exception, expected: str) -> None:
    assert describe_failure(exc, action) == expected


async def test_delete_refused_by_discord_names_the_delete(world: World) -> None:
    sent = await world.alice.send(world.general, TOXIC)
    world.env.inject_error("DELETE", f"/channels/{world.general.id}/messages/{sent.id}", status=403, code=50013,
                           message="Missing Permissions")
    res = await world.mod.click(world.modlog.last_message, label="Delete message")
    answer = private_answer(res).content
    assert answer == "Could not delete the message: missing permission to delete the message."
    assert sent.id in [m.id for m in world.general.history()]
    assert world.flags()[0].action_taken is None


async def test_timeout_refused_by_discord_names_the_timeout(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    world.env.inject_error("PATCH", f"/guilds/{world.g.id}/members/{world.alice.id}", status=403, code=50013,
                           message="Missing Permissions")
    res = await world.mod.click(world.modlog.last_message, label="Timeout author")
    res = await world.mod.select(private_answer(res), ["60"], custom_id=f"toxmod:timeout:{flag.id}")
    answer = private_answer(res).content
    assert answer == "Could not time out the author: missing permission to time out the author."
    assert world.alice.member.timed_out_until is None


async def test_automod_refused_by_discord_logs_what_it_tried(world: World, caplog: pytest.LogCaptureFixture) -> None:
    await world.admin.slash(world.general, "automod set", label="toxic", threshold=0.6, delete=True,
                            timeout_minutes=10)
    world.env.inject_error("DELETE", f"/channels/{world.general.id}/messages/*", status=403, code=50013,
                           message="Missing Permissions")
    world.env.inject_error("PATCH", f"/guilds/{world.g.id}/members/{world.alice.id}", status=403, code=50013,
                           message="Missing Permissions")
    with caplog.at_level(logging.WARNING, logger="bot.discord.live.cog"):
        sent = await world.alice.send(world.general, TOXIC)
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.discord.live.cog"]
    assert any(f"could not delete message {sent.id}: missing permission to delete the message" in w for w in warnings)
    assert any("missing permission to time out the author" in w for w in warnings)
    assert not any("mod-log" in w for w in warnings)
    assert world.flags()[0].action_taken is None
    assert world.modlog.last_message is not None  # the flag was still posted
