"""The bot itself under SimCord: a burst of chat into one guild, then a steady stream at a set rate, with the
event loop's lag measured meanwhile. Started by bench_scoring.py in its own process; prints one JSON line.

Usage: `bench_bot.py SPEC_JSON`, SPEC = {"texts": FILE, "models_dir": DIR, "members": N,
"burst": N, "paced": N, "rate": MSG_PER_S}.

How it is measured, and why:
- Messages enter through SimCord's backend (`env.backend.create_message`), one per loop turn, the way a
  gateway delivers them: nobody waits for the bot between two messages. `member.send` settles (waits until
  the bot has handled the message), which would turn every run into one message at a time.
- "Done" is the last message's row in `scored_messages`: scored, decided, written, flags posted.
- SimCord runs the bot on this process's event loop and virtualises the timers the bot schedules (they fire
  when its clock advances); timers scheduled by this driver code, outside the bot's scope, stay real. The
  lag probe is driver code: its 5 ms sleeps are real sleeps on the bot's loop, timed with
  time.perf_counter (which SimCord leaves alone), and it fails loudly if a sleep ever returns early.
- The lag includes what SimCord itself does per message on the loop (its backend's bookkeeping, then
  discord.py parsing the event, as with a real gateway); `driver_ms_per_msg` says how much that is.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchkit import ROOT, answer, percentile, read_texts

if TYPE_CHECKING:
    import simcord

    from bot.discord.app import ToxmodBot

TICK = 0.005  # the probe's sleep: about a heartbeat check's or an interaction's patience, made frequent


class LagProbe:
    """How late a 5 ms sleep on the loop wakes up: anything else waiting on the loop waits as long."""

    def __init__(self) -> None:
        self.late_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.late_ms = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict[str, float]:
        assert self._task is not None  # noqa: S101 - narrows for mypy: stop() follows start()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        if self.late_ms and min(self.late_ms) < -0.5:
            raise RuntimeError("the probe's sleeps returned early: its timers are not real time")
        return {"lag_p50": percentile(self.late_ms, 0.5), "lag_p99": percentile(self.late_ms, 0.99),
                "lag_max": max(self.late_ms, default=float("nan")), "ticks": len(self.late_ms)}

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            self.late_ms.append((time.perf_counter() - before - TICK) * 1000)


class Chat:
    """One guild with a mod-log set and its members, and the bot's database to watch rows arrive in."""

    def __init__(self, env: simcord.Env, bot: ToxmodBot, members: int) -> None:
        self.env, self.bot, self.member_count = env, bot, members
        self.driver_s = 0.0  # time spent in SimCord's create_message (and the bot's event parsing it runs)
        self.sent = 0

    async def open(self) -> None:
        import discord

        env = self.env
        await self.bot.tree.sync()
        guild = env.create_guild("Bench")
        admins = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
        self.channel = guild.create_text_channel("general")
        modlog = guild.create_text_channel("mod-log")
        admin = guild.add_member(env.create_user("admin"), roles=[admins])
        self.members = [guild.add_member(env.create_user(f"member{i}")) for i in range(self.member_count)]
        await env.settle()
        await admin.slash(self.channel, "modlog set", channel=modlog)

    def send(self, text: str) -> None:
        start = time.perf_counter()
        self.env.backend.create_message(self.channel.id, self.members[self.sent % len(self.members)].id, text)
        self.driver_s += time.perf_counter() - start
        self.sent += 1

    async def rows(self) -> int:
        from sqlalchemy import func, select

        from bot.storage.tables import ScoredMessage

        count = await self.bot.db.read(lambda s: s.scalar(select(func.count()).select_from(ScoredMessage)))
        return int(count or 0)

    async def written(self, rows: int) -> None:
        while await self.rows() < rows:
            await asyncio.sleep(0.01)


async def burst(chat: Chat, texts: list[str]) -> dict[str, Any]:
    """Every message sent at once (one per loop turn); msg/s from the first send to the last row written."""
    rows, probe = await chat.rows(), LagProbe()
    probe.start()
    start, driver_before = time.perf_counter(), chat.driver_s
    for text in texts:
        chat.send(text)
        await asyncio.sleep(0)
    await chat.written(rows + len(texts))
    elapsed = time.perf_counter() - start
    return {"messages": len(texts), "msg_s": len(texts) / elapsed, **await probe.stop(),
            "driver_ms_per_msg": (chat.driver_s - driver_before) * 1000 / len(texts)}


async def paced(chat: Chat, texts: list[str], rate: float) -> dict[str, Any]:
    """One message every 1/rate s of real time; the lag is measured while they arrive."""
    rows, probe = await chat.rows(), LagProbe()
    probe.start()
    start = time.perf_counter()
    for i, text in enumerate(texts):
        chat.send(text)
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.perf_counter()))
    arrival = time.perf_counter() - start
    lag = await probe.stop()
    await chat.written(rows + len(texts))
    return {"messages": len(texts), "rate": rate, "arrival_msg_s": len(texts) / arrival,
            "drain_s": time.perf_counter() - start - arrival, **lag}


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import simcord

    from bot import create_bot

    texts = read_texts(spec["texts"])
    with tempfile.TemporaryDirectory() as tmp:
        bot = create_bot(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", models_dir=Path(spec["models_dir"]),
                         model_dir=None, dev_guild_id=None)
        try:
            async with simcord.run(bot) as env:
                chat = Chat(env, bot, spec["members"])
                await chat.open()
                out = {"members": spec["members"], "burst": await burst(chat, texts[: spec["burst"]]),
                       "paced": await paced(chat, texts[spec["burst"] : spec["burst"] + spec["paced"]],
                                            spec["rate"])}
                await env.settle()
        finally:
            await bot.close()
    return out


if __name__ == "__main__":
    answer(lambda spec: asyncio.run(measure(spec)), json.loads(sys.argv[1]))
