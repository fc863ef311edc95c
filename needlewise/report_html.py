"""The staff report as one self-contained HTML page: inline styles, charts as inline SVG, no
script, nothing loaded from anywhere. Every text from the report is escaped."""

from __future__ import annotations

from html import escape
from typing import Any, Dict, List, Sequence, Tuple

COLOURS = {"widget": "#0b6e75", "kiosk": "#c0571b", "urgent": "#b00020", "handoff": "#5a4fcf", "topic": "#2a6f97"}

STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d1d1f;margin:0}
body{background:#f6f7f8}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 8px}
.meta{color:#555;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;padding:0;list-style:none}
.cards li{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px}
.cards b{display:block;font-size:1.6em}
section{background:#fff;border:1px solid #ddd;border-radius:8px;padding:16px;margin-top:16px}
table{border-collapse:collapse;width:100%}
th,td{text-align:start;padding:6px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f0f2f4}td.n{text-align:end;font-variant-numeric:tabular-nums}
caption{text-align:start;font-weight:600;padding:4px 0}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
.note{color:#555;font-size:.9em}.empty{font-size:1.2em;padding:24px;background:#fff;border-radius:8px}
svg{max-width:100%;height:auto}small{color:#555}
"""


def _bars_by_day(daily: List[Dict[str, Any]], series: Sequence[Tuple[str, str, str]], title: str) -> str:
    """Stacked bars, one per day: `series` is (key, label, colour)."""
    width, height, left, bottom = 920, 220, 40, 28
    top = max([sum(day[key] for key, _, _ in series) for day in daily] + [1])
    step = (width - left) / max(len(daily), 1)
    bar = max(step * 0.7, 1)
    parts = []
    for index, day in enumerate(daily):
        y = height - bottom
        for key, label, colour in series:
            value = day[key]
            if not value:
                continue
            h = (height - bottom - 10) * value / top
            y -= h
            x = left + index * step
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(day['date'])}: {value} {escape(label)}</title></rect>"
            )
    ticks = "".join(
        f'<text x="{left + i * step:.1f}" y="{height - 8}" font-size="11">{escape(d["date"][5:])}</text>'
        for i, d in enumerate(daily)
        if i % max(1, len(daily) // 8) == 0
    )
    axis = (
        f'<text x="0" y="14" font-size="11">{top}</text>'
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#999"/>'
    )
    legend = "".join(f'<span style="background:{c}"></span>{escape(label)}' for _, label, c in series)
    totals = ", ".join(f"{sum(d[k] for d in daily)} {label}" for k, label, _ in series)
    return (
        f'<figure><svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}: {escape(totals)}">'
        f"<title>{escape(title)}</title>{axis}{''.join(parts)}{ticks}</svg>"
        f'<figcaption class="legend">{escape(title)}:{legend}</figcaption></figure>'
    )


def _topic_bars(topics: List[Dict[str, Any]]) -> str:
    shown = topics[:12]
    if not shown:
        return ""
    width, row = 920, 24
    height = row * len(shown) + 8
    top = max(t["asked"] for t in shown) or 1
    parts = []
    for i, topic in enumerate(shown):
        w = (width - 330) * topic["asked"] / top
        y = 4 + i * row
        parts.append(
            f'<text x="0" y="{y + 16}" font-size="12">{escape(topic["title"][:48])}</text>'
            f'<rect x="320" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{COLOURS["topic"]}"/>'
            f'<text x="{326 + w:.1f}" y="{y + 16}" font-size="12">{topic["asked"]}</text>'
        )
    return (
        f'<figure><svg viewBox="0 0 {width} {height}" role="img" aria-label="Topics asked most">'
        f"<title>Topics asked most</title>{''.join(parts)}</svg></figure>"
    )


def _table(caption: str, headers: Sequence[str], rows: List[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    if not rows:
        return f'<p class="note">{escape(caption)}: none.</p>'
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(str(v))}</td>' if i in numeric else f"<td>{escape(str(v))}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rate(value: Any) -> str:
    return "" if value is None else f"{round(value * 100)} %"


def render(report: Dict[str, Any]) -> str:
    """The whole page."""
    totals = report["totals"]
    header = (
        f"<h1>What patients asked {escape(report['clinic'])}'s assistant</h1>"
        f'<p class="meta">{escape(report["from"])} to {escape(report["to"])} ({report["range_days"]:g} days). '
        f"Made {escape(report['generated'])}. No conversation is shown, only counts and the questions "
        f"asked in at least {report['min_count']} conversations.</p>"
    )
    if not totals["turns"]:
        body = f'<p class="empty">Nothing yet: no conversations in the last {report["range_days"]:g} days.</p>'
        return _page(report, header + body + _reviews(report))
    cards = (
        '<ul class="cards">'
        f"<li><b>{totals['conversations']}</b>conversations</li>"
        f"<li><b>{totals['turns']}</b>questions and clicks</li>"
        f"<li><b>{totals['unanswered']}</b>not answered</li>"
        f"<li><b>{totals['helpful']} / {totals['not_helpful']}</b>helpful / not helpful</li>"
        f"<li><b>{totals['urgent']}</b>urgent replies</li>"
        f"<li><b>{totals['handoffs']}</b>handoffs to staff</li>"
        "</ul>"
    )
    activity = _bars_by_day(
        report["daily"],
        [("widget_turns", "widget", COLOURS["widget"]), ("kiosk_turns", "kiosk", COLOURS["kiosk"])],
        "Questions and clicks per day",
    ) + _bars_by_day(
        report["daily"],
        [("widget_conversations", "widget", COLOURS["widget"]), ("kiosk_conversations", "kiosk", COLOURS["kiosk"])],
        "Conversations per day",
    )
    safety = _bars_by_day(
        report["daily"],
        [("urgent", "urgent replies", COLOURS["urgent"]), ("handoff", "handoffs", COLOURS["handoff"])],
        "Urgent replies and handoffs per day",
    )
    topics = report["topics"]
    topic_rows = [[t["title"], t["asked"], t["helpful"], t["not_helpful"], _rate(t["helpful_rate"])] for t in topics]
    unanswered = report["unanswered"]
    question_rows = [
        [g["question"], g["conversations"], g["times"], "; ".join(g["other_wordings"])] for g in unanswered["shown"]
    ]
    hidden = (
        f'<p class="note">Also {unanswered["hidden_questions"]} questions ({unanswered["hidden_groups"]} kinds) '
        f"asked in fewer than {report['min_count']} conversations: counted, not shown.</p>"
    )
    worst = [[t["title"], t["not_helpful"], t["helpful"], _rate(t["helpful_rate"])] for t in report["most_not_helpful"]]
    body = (
        cards
        + f"<section><h2>Activity</h2>{activity}</section>"
        + "<section><h2>Questions the assistant could not answer</h2>"
        + '<p class="note">The next answers to write. Personal details were removed before storage.</p>'
        + _table("Most frequent first", ["Question", "Conversations", "Times", "Other wordings"], question_rows, (1, 2))
        + hidden
        + "</section>"
        + f"<section><h2>Topics asked most</h2>{_topic_bars(topics)}"
        + _table(
            "Every topic asked", ["Topic", "Asked", "Helpful", "Not helpful", "Helpful rate"], topic_rows, (1, 2, 3, 4)
        )
        + "</section>"
        + "<section><h2>Answers patients found least helpful</h2>"
        + _table("Most 'not helpful' first", ["Topic", "Not helpful", "Helpful", "Helpful rate"], worst, (1, 2, 3))
        + "</section>"
        + f"<section><h2>Urgent replies and handoffs</h2><p class='note'>Counts only.</p>{safety}</section>"
    )
    return _page(report, header + body + _reviews(report))


def _reviews(report: Dict[str, Any]) -> str:
    reviews = report["reviews"]
    old = [[r["title"], r["reviewed_on"], r["next_due"]] for r in reviews["older_than_a_year"]]
    due = [[r["title"], r["reviewed_on"], r["next_due"]] for r in reviews["overdue"]]
    return (
        "<section><h2>Answers to review</h2>"
        + _table("Reviewed over a year ago", ["Topic", "Reviewed on", "Next review due"], old)
        + _table("Past their next review date", ["Topic", "Reviewed on", "Next review due"], due)
        + f'<p class="note">{len(reviews["drafts"])} answers are drafts, not yet approved by a clinician.</p>'
        + "</section>"
    )


def _page(report: Dict[str, Any], main: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>Needlewise staff report, {escape(report['from'])} to {escape(report['to'])}</title>"
        f"<style>{STYLE}</style></head><body><main>{main}</main></body></html>\n"
    )
