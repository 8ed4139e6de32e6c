"""A guild's flags per day as a PNG chart, for `/stats` and `toxmod report`, and the same figures as text for
whoever cannot see the chart (a screen reader reads the text; the chart adds nothing the text lacks).

Drawn with matplotlib's Agg canvas on a `Figure` of its own (never pyplot, whose global state and GUI
backends a bot and a thread pool have no use for), imported when a chart is drawn, so that starting the bot
or the command line never pays for it. Drawing takes a good part of a second: the bot calls `render_png` in a
thread (asyncio.to_thread), never on the event loop.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from bot.labels import LABELS
from bot.storage.stats import DailyFlags

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# pixels: wide enough for a year of daily bars, and what the tests check
WIDTH, HEIGHT, DPI = 1000, 640, 100
# colour-blind-safe (Okabe and Ito), one per label, then the episode kinds
LABEL_COLOURS = ("#D55E00", "#CC79A7", "#E69F00", "#0072B2", "#009E73", "#56B4E9")
KIND_COLOURS = {"flood": "#999999", "raid": "#000000"}
STATUS_COLOURS = {"confirmed": "#D55E00", "dismissed": "#009E73", "pending": "#BBBBBB"}
CASE_COLOURS = {"strikes": "#0072B2", "appeals": "#E69F00"}
# what the chart's first panel stacks: each label, then the flags about an episode rather than a message
EPISODES = ("flood", "raid")


def what_series(daily: DailyFlags) -> dict[str, list[int]]:
    """The first panel's stacks, per day: each label (message flags), then flood and raid flags."""
    return {**daily.per_label, **{kind: daily.per_kind[kind] for kind in EPISODES}}


def render_png(daily: DailyFlags, title: str) -> bytes:
    """The chart as PNG bytes, WIDTH x HEIGHT pixels: flags per day stacked by label (and flood and raid), over
    the verdicts on them per day stacked by state, over the strikes and appeals per day where the escalation
    ladder made any. Written without a timestamp or version in its metadata, so the same figures draw the
    same bytes on one installation."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    cases = any(any(counts) for counts in daily.per_case.values())
    panels = figure.subplots(3 if cases else 2, 1, sharex=True, height_ratios=(3, 2, 2) if cases else (3, 2))
    figure.suptitle(title, parse_math=False)  # a guild's name may hold `$`, which is not maths here
    colours = dict(zip(LABELS, LABEL_COLOURS, strict=True)) | KIND_COLOURS
    _stack(panels[0], daily, what_series(daily), colours, "Flags per day, by label (a flag may carry several)")
    _stack(panels[1], daily, daily.per_status, STATUS_COLOURS, "Flags per day, by verdict")
    if cases:
        _stack(panels[2], daily, daily.per_case, CASE_COLOURS, "Strikes and appeals per day (escalation ladder)")
    figure.autofmt_xdate()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _stack(axes: Axes, daily: DailyFlags, series: dict[str, list[int]], colours: dict[str, str],
           title: str) -> None:
    """One panel: a bar per day, its counts stacked in the order of `series`; a series that is zero all
    through the window stays out of the bars and the legend."""
    from matplotlib.ticker import MaxNLocator

    days: Any = daily.days  # matplotlib takes dates through its unit converters, which its stubs do not say
    bottoms = [0] * len(daily.days)
    drawn = [(name, counts) for name, counts in series.items() if any(counts)]
    for name, counts in drawn:
        axes.bar(days, counts, bottom=bottoms, width=0.8, label=name, color=colours[name])
        bottoms = [b + c for b, c in zip(bottoms, counts, strict=True)]
    axes.set_title(title, loc="left", fontsize="medium")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of flags: no half flags on the scale
    if drawn:  # a panel of nothing (reported flags without labels only) has no legend to show
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")  # beside, never over, a bar


def figures_lines(daily: DailyFlags) -> list[str]:
    """The chart's figures as sentences, for a screen reader (alt text) and for the report's readers: the
    totals of each panel and the busiest day."""
    if not daily.flags:
        return [f"No flags in the last {len(daily.days)} days."]
    what = ", ".join(f"{name} {n}" for name, n in daily.totals(what_series(daily)).items() if n)
    verdicts = ", ".join(f"{n} {state}" for state, n in daily.totals(daily.per_status).items())
    per_day = [sum(day) for day in zip(*daily.per_status.values(), strict=True)]
    busiest = max(range(len(per_day)), key=per_day.__getitem__)
    cases = daily.totals(daily.per_case)
    ladder = [f"Escalation ladder: {cases['strikes']} strikes, {cases['appeals']} appeals."] if any(cases.values()) \
        else []
    return [f"{daily.flags} flags from {daily.days[0]} to {daily.days[-1]}.",
            f"By label: {what or 'none'}.",
            f"Verdicts: {verdicts}.",
            f"Busiest day: {daily.days[busiest]}, {per_day[busiest]} flags.", *ladder]
