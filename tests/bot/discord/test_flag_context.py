"""Issue 26: every flag's post shows the messages before it and the one it replies to, inert, and `/flags show`
the same; each line goes with its author's texts (`/privacy forget`) and with the flag's (retention), and a
channel the bot may not read back gives one line instead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace

import discord
import pytest

from bot.discord.modlog._embeds import flag_embed, message_url
from bot.labels import LABELS
from bot.storage.sealing import CONTEXT_TEXT, new_key, seal
from bot.storage.tables import Flag, FlagContext, FlagKind, FlagOrigin, FlagStatus, MemberKey, utcnow
from bot.storage.texts import erase_texts
from tests.support.world import World

TOXIC = "you are a stupid idiot"
REPLIED = "**hello friend** see you at the raid @everyone"
FILLER = "hello friend see you at the raid tonight"
EARLIER = ("hello friend see [the rules](https://evil.example) <@123456789012345678>",
           "hello friend ||see you|| __at the raid__ # tonight")


def fields(message: discord.Message | discord.InteractionMessage) -> dict[str, str]:
    return {f.name: f.value for f in message.embeds[0].fields}


def unescaped(shown: str) -> str:
    """What Discord renders of escaped text: a backslash before punctuation shows only the punctuation."""
    out, chars = [], iter(shown)
    for ch in chars:
        out.append(next(chars) if ch == "\\" else ch)
    return "".join(out)


async def conversation(world: World) -> tuple[list[discord.Message], discord.Message]:
    """Bob's message, a filler, two earlier ones (alice, bob), then alice's toxic reply to bob's first; and
    messages in another channel and another server meanwhile, which no context may include."""
    random = world.g.create_text_channel("random")
    await world.env.settle()
    replied = await world.bob.send(world.general, REPLIED)
    filler = await world.bob.send(world.general, FILLER)
    first = await world.alice.send(world.general, EARLIER[0])
    await world.bob.send(random, "over in another channel")
    await world.other_member.send(world.other_general, "over in another server")
    second = await world.bob.send(world.general, EARLIER[1])
    flagged = await world.alice.send(world.general, TOXIC, reply_to=replied)
    return [replied, filler, first, second], flagged


async def test_the_post_shows_the_reply_and_earlier_messages_inert_and_flags_show_the_same(world: World) -> None:
    context, _ = await conversation(world)
    replied = context[0]
    [flag] = world.flags()
    post = world.modlog.last_message
    lines = fields(post)["Context"].splitlines()
    reply_url = message_url(world.g.id, world.general.id, replied.id)
    assert len(lines) == 4  # oldest first: the replied-to message, the filler, then the two before the flag
    assert lines[0].startswith(f"[↩ replied to]({reply_url}) <@{world.bob.id}>: ")
    assert lines[2].startswith(f"<@{world.alice.id}>: ") and lines[3].startswith(f"<@{world.bob.id}>: ")
    for shown, typed in zip([lines[0], lines[2], lines[3]], [REPLIED, *EARLIER], strict=True):
        body = shown.split(">: ", 1)[1]
        assert unescaped(body) == typed  # exactly what was typed ...
        for char in "*@|_#<[":  # ... and none of it formats, links or mentions
            assert char not in body.replace(f"\\{char}", "")
    assert "another" not in fields(post)["Context"]
    links = {c.label: c.url for row in post.components for c in row.children if c.url}
    assert links == {"Open reply": reply_url}
    assert [(c.message_id, c.is_reply) for c in flag.context] == [(m.id, m is replied) for m in context]
    res = await world.mod.slash(world.general, "flags show", id=flag.id)
    assert fields(res.response)["Context"] == fields(post)["Context"]


async def test_forget_erases_a_members_lines_and_retention_all_context(world: World) -> None:
    await conversation(world)
    [flag] = world.flags()
    res = await world.admin.slash(world.general, "privacy forget", member=world.bob)
    assert res.ephemeral
    res = await world.mod.slash(world.general, "flags show", id=flag.id)
    lines = fields(res.response)["Context"].splitlines()
    assert [line.endswith("*(erased)*") for line in lines] == [True, True, False, True]
    assert "rules" in lines[2]  # alice's line stays
    await world.env.bot.db.erase(lambda s: erase_texts(s, before=utcnow() + timedelta(minutes=1)))
    res = await world.mod.slash(world.general, "flags show", id=flag.id)
    assert all(line.endswith("*(erased)*") for line in fields(res.response)["Context"].splitlines())
    [flag] = world.flags()
    assert all(c.text is None for c in flag.context) and flag.text is None


async def test_without_read_message_history_the_flag_is_posted_with_context_unavailable(world: World) -> None:
    quiet = world.g.create_text_channel("quiet", overwrites={world.g.me: discord.PermissionOverwrite(
        read_message_history=False)})
    await world.env.settle()
    await world.bob.send(quiet, FILLER)
    await world.alice.send(quiet, TOXIC)
    [flag] = world.flags()
    assert flag.modlog_message_id == world.modlog.last_message.id
    assert fields(world.modlog.last_message)["Context"] == "context unavailable"
    assert not [c for row in world.modlog.last_message.components for c in row.children if c.url]


async def test_a_first_message_has_no_context_field(world: World) -> None:
    await world.alice.send(world.general, TOXIC)
    assert "Context" not in fields(world.modlog.last_message)


async def test_a_discord_failure_reading_history_gives_context_unavailable(world: World,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    async def failing(*_args: object, **_kwargs: object) -> AsyncIterator[discord.Message]:
        raise discord.DiscordServerError(SimpleNamespace(status=503, reason="test"), "unavailable")
        yield  # an async generator, as history is

    await world.bob.send(world.general, FILLER)
    monkeypatch.setattr(discord.abc.Messageable, "history", failing)
    await world.alice.send(world.general, TOXIC)
    [flag] = world.flags()
    assert flag.context_unavailable and flag.modlog_message_id == world.modlog.last_message.id
    assert fields(world.modlog.last_message)["Context"] == "context unavailable"


def test_the_context_fits_what_discord_allows_of_a_full_post() -> None:
    key = MemberKey(id=1, guild_id=1, member_id=4, key=new_key())
    worst = "@*" * 150  # every character escaped: twice its length once shown

    def reviewed(flag_id: int) -> Flag:
        flag = Flag(id=flag_id, kind=FlagKind.MESSAGE, guild_id=1, channel_id=2, message_id=3, author_id=4,
                    origin=FlagOrigin.MODEL, scores=dict.fromkeys(LABELS, 0.9), labels=list(LABELS),
                    model_version="m1", status=FlagStatus.CONFIRMED, reviewer_id=5, note="!" * 200,
                    verdict_labels=list(LABELS), action_taken="message deleted, timed out 10 min")
        flag.text = "*" * 1500
        return flag

    flag = reviewed(2)
    flag.previous = reviewed(1)
    flag.context = [FlagContext(guild_id=1, channel_id=2, message_id=m, author_id=4, is_reply=m == 1,
                                sealed_text=seal(key.key, worst, CONTEXT_TEXT), text_key=key) for m in range(1, 5)]
    embed = flag_embed(flag)
    shown = fields_of(embed)
    assert len(embed) <= 6000 and all(len(value) <= 1024 for value in shown.values())
    assert "Context" in shown and list(shown)[-1] == "Status"


def fields_of(embed: discord.Embed) -> dict[str, str]:
    return {str(f.name): str(f.value) for f in embed.fields}
