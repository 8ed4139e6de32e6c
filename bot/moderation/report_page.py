"""`toxmod report`'s page: one self-contained HTML file with a guild's chart and its figures, for admins.

Self-contained means it loads nothing: the chart is a data: URI, the style is inline, there is no script, so
the file can be mailed, archived or opened offline and shows the same thing years later. The figures are
also a table, for readers who cannot see the chart and for copying into a spreadsheet.
"""

from __future__ import annotations

import base64
from datetime import date
from html import escape

from bot.moderation.charts import figures_lines, what_series
from bot.storage.stats import DailyFlags

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1040px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; margin-top: 1.5rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .2rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f3f3; }
"""


def report_html(guild_id: int, days: int, daily: DailyFlags, png: bytes | None, generated: date) -> str:
    """The page: a title, the figures in words, the chart (when there are flags; `png` is then its bytes) and
    the table of figures per day. A guild with no flags in the window, or one this database has never seen,
    gets a page that says there is no data, rather than an empty chart."""
    title = f"toxmod report: guild {guild_id}, last {days} days"
    parts = [f"<h1>{escape(title)}</h1>",
             f"<p>Generated {generated.isoformat()} (days are UTC).</p>"]
    lines = figures_lines(daily)
    if not daily.flags or png is None:
        parts.append(f"<p><strong>No data:</strong> {escape(' '.join(lines))} A guild id this database has "
                     "never seen shows the same.</p>")
    else:
        alt = escape(" ".join(lines), quote=True)
        source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>")
        parts.append(f'<img src="{source}" alt="{alt}">')
        parts.append(figures_table(daily))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def figures_table(daily: DailyFlags) -> str:
    """The figures per day as an HTML table: a row a day, a column per label, kind of episode and verdict
    state, and a last row of totals."""
    columns = {**what_series(daily), **daily.per_status}
    head = "".join(f'<th scope="col">{escape(name)}</th>' for name in columns)
    rows = []
    for i, day in enumerate(daily.days):
        cells = "".join(f"<td>{counts[i]}</td>" for counts in columns.values())
        rows.append(f'<tr><th scope="row">{day.isoformat()}</th>{cells}</tr>')
    totals = "".join(f"<td>{sum(counts)}</td>" for counts in columns.values())
    return (f'<table>\n<caption>Flags per day (a flag may carry several labels)</caption>\n'
            f'<thead><tr><th scope="col">day</th>{head}</tr></thead>\n<tbody>\n' + "\n".join(rows)
            + f'\n</tbody>\n<tfoot><tr><th scope="row">total</th>{totals}</tr></tfoot>\n</table>')
