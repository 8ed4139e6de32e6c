"""`/stats` under SimCord: the chart attached as a PNG, the same figures in words, and no chart of nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from PIL import Image

from bot.labels import LABELS
from bot.moderation.charts import HEIGHT, WIDTH, render_png
from bot.storage.stats import DailyFlags
from tests.support.world import World

TOXIC = "you are a stupid idiot"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def test_stats_attaches_a_png_chart_and_says_its_figures_in_words(world: World) -> None:
    for i in range(3):
        await world.alice.send(world.general, f"{TOXIC} {i}")
    [first, *_] = world.flags()
    await world.mod.slash(world.general, "flags confirm", id=first.id)

    res = await world.mod.slash(world.general, "stats", days=7)
    assert res.ephemeral
    [attachment] = res.response.attachments
    assert attachment.filename == "stats.png" and attachment.content_type in (None, "image/png")
    data = await attachment.read()
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every pixel: a truncated or corrupt file fails here
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)

    embed = res.response.embeds[0]
    assert embed.image.url == "attachment://stats.png"
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Flags"] == "3" and fields["Reviewed"] == "1"
    assert "Strikes" not in fields and "Appeals" not in fields  # no ladder here: nothing of it to count
    # the chart's figures in words, for a screen reader: in the embed and as the image's alt text
    assert "3 flags from" in embed.description and "toxic 3" in embed.description
    assert "1 confirmed, 0 dismissed, 2 pending" in embed.description
    assert attachment.description is not None and "1 confirmed" in attachment.description


async def test_stats_without_flags_says_so_and_attaches_no_chart(world: World) -> None:
    await world.alice.send(world.general, f"{TOXIC} in Main")  # another guild's flag is not Other's
    res = await world.other_mod.slash(world.other_general, "stats", days=30)
    assert res.response.attachments == []
    embed = res.response.embeds[0]
    assert embed.description == "No flags in the last 30 days, so no chart."
    assert {f.name: f.value for f in embed.fields}["Flags"] == "0"


def test_the_chart_is_the_same_bytes_for_the_same_figures_and_matplotlib_loads_only_to_draw_it() -> None:
    days = [date(2026, 12, 1) + timedelta(days=i) for i in range(3)]
    daily = DailyFlags(days, {label: [1, 0, 2] for label in LABELS}, {"message": [1, 0, 2], "flood": [0, 1, 0],
                       "raid": [0, 0, 0]}, {"confirmed": [1, 0, 0], "dismissed": [0, 1, 0], "pending": [0, 0, 2]})
    png = render_png(daily, "Guild $1: a title that is not maths")
    assert png.startswith(PNG_SIGNATURE) and png == render_png(daily, "Guild $1: a title that is not maths")
    # starting the bot and the command line never pays for matplotlib: it is imported when a chart is drawn
    code = ("import sys; from bot import create_bot; import bot.discord.review.cog, bot.cli.app; "
            "print(sorted(m for m in ('matplotlib', 'PIL') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert loaded.stdout.strip() == "[]"
