"""The staff report: what patients asked, what the bot could not answer, what they found unhelpful.

Read from the tracker store (SQLite or PostgreSQL) over the last RANGE_DAYS, it counts
conversations and turns per day by surface (widget, kiosk), the topics asked most with their
"helpful" and "not helpful" counts, urgent replies and handoffs per day (counts only), and lists
the questions the bot answered with `fallback` or `out_of_scope`, grouped when they are
near-duplicates, most frequent first: the next answers to write. From the knowledge file: the
answers whose review is over a year old, and the drafts.

Privacy: only what storage already holds, which is redacted (and redacted again here); a
question asked in fewer than REPORT_MIN_COUNT conversations is counted but not shown; no sender
id, and no text of an urgent or crisis turn, ever leaves this module.

`tools/report.py` (`make report`) writes it as files; the web server serves it at `/staff/`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter, defaultdict
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

import sqlalchemy as sa

from needlewise.inputs import redact
from needlewise.knowledge import KnowledgeBase
from needlewise.retention import KIOSK_PREFIX, engine_for

UNANSWERED_KINDS = ("fallback", "out_of_scope")
SURFACES = ("widget", "kiosk")
#: near-duplicates: questions whose words overlap at least this much (Jaccard) are one group
SIMILAR = 0.75
REVIEW_AGE_DAYS = 365
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "i",
        "im",
        "i'm",
        "me",
        "my",
        "you",
        "your",
        "it",
        "its",
        "it's",
        "this",
        "that",
        "these",
        "those",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "and",
        "or",
        "but",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "what",
        "how",
        "why",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "so",
        "if",
        "about",
        "please",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "just",
    ]
)
EVENTS = sa.table(
    "events",
    sa.column("id"),
    sa.column("sender_id"),
    sa.column("type_name"),
    sa.column("timestamp"),
    sa.column("data"),
)
Progress = Callable[[int], None]


def _normalise(text: str) -> Tuple[str, ...]:
    words = re.findall(r"\[[a-z]+\]|[^\W_]+(?:'[^\W_]+)?", text.lower())
    return tuple(sorted({w for w in words if w not in STOP_WORDS})) or tuple(words)


class QuestionGroups:
    """Near-duplicate questions grouped: the same words once stop words go, or a large overlap."""

    def __init__(self, similar: float = SIMILAR) -> None:
        self.similar = similar
        self.groups: List[Dict[str, Any]] = []
        self._by_key: Dict[Tuple[str, ...], int] = {}
        self._by_word: Dict[str, Set[int]] = defaultdict(set)

    def add(self, text: str, conversation: str) -> None:
        key = _normalise(text)
        index = self._by_key.get(key)
        if index is None:
            index = self._closest(set(key))
        if index is None:
            index = len(self.groups)
            self.groups.append({"words": set(key), "texts": Counter(), "conversations": set()})
            for word in key:
                self._by_word[word].add(index)
        self._by_key[key] = index
        group = self.groups[index]
        group["texts"][text] += 1
        group["conversations"].add(conversation)

    def _closest(self, words: Set[str]) -> Optional[int]:
        if not words:
            return None
        candidates: Counter = Counter()
        for word in words:
            for index in self._by_word.get(word, ()):
                candidates[index] += 1
        best, best_score = None, 0.0
        for index, shared in candidates.most_common(50):
            score = shared / len(words | self.groups[index]["words"])
            if score >= self.similar and score > best_score:
                best, best_score = index, score
        return best

    def ranked(self) -> List[Dict[str, Any]]:
        """Groups, most conversations first: the most common wording, counts, and the other wordings."""
        out = []
        for group in self.groups:
            wordings = [text for text, _ in group["texts"].most_common()]
            out.append(
                {
                    "question": wordings[0],
                    "conversations": len(group["conversations"]),
                    "times": sum(group["texts"].values()),
                    "other_wordings": wordings[1:5],
                }
            )
        out.sort(key=lambda g: (-g["conversations"], -g["times"], g["question"]))
        return out


def _surface(sender: str, metadata: Any) -> str:
    if sender.startswith(KIOSK_PREFIX) or (isinstance(metadata, dict) and metadata.get("surface") == "kiosk"):
        return "kiosk"
    return "widget"


def _rows(
    engine: sa.engine.Engine, since: float, progress: Optional[Progress]
) -> Iterator[Tuple[str, str, float, str]]:
    """(sender, type, timestamp, data) of the user messages and the bot's `custom` replies, in order."""
    wanted = sa.or_(
        EVENTS.c.type_name == "user",
        sa.and_(EVENTS.c.type_name == "bot", EVENTS.c.data.like('%"custom": {%')),
    )
    query = (
        sa.select(EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.timestamp, EVENTS.c.data)
        .where(EVENTS.c.timestamp >= since, wanted)
        .order_by(EVENTS.c.sender_id, EVENTS.c.id)
    )
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=5000).execute(query)
        for count, row in enumerate(result, start=1):
            if progress is not None and count % 5000 == 0:
                progress(5000)
            yield row[0], row[1], row[2], row[3]


def first_day(now: float, range_days: float) -> dt.date:
    """The report covers whole UTC days: today and the days before it, RANGE_DAYS in all."""
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    return today - dt.timedelta(days=max(0, int(range_days) - 1))


def range_start(now: float, range_days: float) -> float:
    """The first second the report reads: midnight UTC of its first day."""
    start = first_day(now, range_days)
    return dt.datetime(start.year, start.month, start.day, tzinfo=dt.timezone.utc).timestamp()


def count_rows(url: str, range_days: float, now: Optional[float] = None) -> int:
    """How many rows `build` will read (for a progress bar)."""
    since = range_start(time.time() if now is None else now, range_days)
    engine = engine_for(url)
    try:
        if not sa.inspect(engine).has_table("events"):
            return 0
        query = sa.select(sa.func.count()).select_from(EVENTS).where(EVENTS.c.timestamp >= since)
        with engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)
    finally:
        engine.dispose()


def build(
    url: str,
    kb: KnowledgeBase,
    range_days: float = 30,
    min_count: int = 2,
    now: Optional[float] = None,
    progress: Optional[Progress] = None,
) -> Dict[str, Any]:
    """The report as a dict (what report.json holds)."""
    now = time.time() if now is None else now
    since = range_start(now, range_days)
    engine = engine_for(url)
    daily: Dict[str, Counter] = defaultdict(Counter)
    conversations_by_day: Dict[Tuple[str, str], Set[str]] = defaultdict(set)
    asked, helpful, not_helpful = Counter(), Counter(), Counter()
    groups = QuestionGroups()
    totals: Counter = Counter()
    all_conversations: Set[str] = set()
    try:
        rows: Iterable = _rows(engine, since, progress) if sa.inspect(engine).has_table("events") else ()
        pending: Optional[str] = None  # the text of the user message whose reply comes next
        sender_before = None
        for sender, kind_of_row, stamp, data in rows:
            if sender != sender_before:
                pending, sender_before = None, sender
            event = json.loads(data)
            day = dt.datetime.fromtimestamp(stamp, dt.timezone.utc).date().isoformat()
            if kind_of_row == "user":
                surface = _surface(sender, event.get("metadata"))
                pending = (event.get("text") or "").strip()
                daily[day][f"{surface}_turns"] += 1
                conversations_by_day[(day, surface)].add(sender)
                all_conversations.add(sender)
                totals[f"{surface}_turns"] += 1
                continue
            custom = ((event.get("data") or {}).get("custom")) or {}
            kind = custom.get("kind")
            turn, pending = pending, None
            if kind is None:
                continue
            totals[f"kind_{kind}"] += 1
            if kind in ("urgent", "handoff"):
                daily[day][kind] += 1
            if kind == "answer" and custom.get("topic"):
                asked[custom["topic"]] += 1
            elif kind == "feedback" and custom.get("about"):
                (helpful if custom.get("helpful") else not_helpful)[custom["about"]] += 1
            elif kind in UNANSWERED_KINDS and turn and not turn.startswith("/"):
                groups.add(redact(turn), sender)  # typed questions: a button press has no words
    finally:
        engine.dispose()
    for (day, surface), senders in conversations_by_day.items():
        daily[day][f"{surface}_conversations"] = len(senders)
    return _assemble(
        kb, range_days, min_count, now, daily, asked, helpful, not_helpful, groups, totals, all_conversations
    )


def _assemble(
    kb: KnowledgeBase,
    range_days: float,
    min_count: int,
    now: float,
    daily: Dict[str, Counter],
    asked: Counter,
    helpful: Counter,
    not_helpful: Counter,
    groups: QuestionGroups,
    totals: Counter,
    conversations: Set[str],
) -> Dict[str, Any]:
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    first = first_day(now, range_days)
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range((today - first).days + 1)]
    columns = ("widget_conversations", "widget_turns", "kiosk_conversations", "kiosk_turns", "urgent", "handoff")
    per_day = [{"date": day, **{c: daily.get(day, Counter())[c] for c in columns}} for day in days]
    topics = []
    for topic in sorted(set(asked) | set(helpful) | set(not_helpful), key=lambda t: (-asked[t], t)):
        rated = helpful[topic] + not_helpful[topic]
        topics.append(
            {
                "topic": topic,
                "title": kb.fill(kb.entry(topic).title) if topic in kb.entries else topic,
                "asked": asked[topic],
                "helpful": helpful[topic],
                "not_helpful": not_helpful[topic],
                "helpful_rate": round(helpful[topic] / rated, 2) if rated else None,
            }
        )
    ranked = groups.ranked()
    shown = [g for g in ranked if g["conversations"] >= min_count]
    hidden = [g for g in ranked if g["conversations"] < min_count]
    return {
        "generated": dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds"),
        "range_days": range_days,
        "from": days[0],
        "to": days[-1],
        "min_count": min_count,
        "clinic": kb.clinic.name,
        "totals": {
            "conversations": len(conversations),
            "turns": totals["widget_turns"] + totals["kiosk_turns"],
            "widget_turns": totals["widget_turns"],
            "kiosk_turns": totals["kiosk_turns"],
            "answers": totals["kind_answer"],
            "unanswered": sum(totals[f"kind_{k}"] for k in UNANSWERED_KINDS),
            "urgent": totals["kind_urgent"],
            "handoffs": totals["kind_handoff"],
            "helpful": sum(helpful.values()),
            "not_helpful": sum(not_helpful.values()),
        },
        "daily": per_day,
        "topics": topics,
        "unanswered": {
            "shown": shown,
            "hidden_questions": sum(g["times"] for g in hidden),
            "hidden_groups": len(hidden),
        },
        "most_not_helpful": [
            t for t in sorted(topics, key=lambda t: (-t["not_helpful"], t["topic"])) if t["not_helpful"]
        ][:10],
        "reviews": reviews(kb, today),
    }


def reviews(kb: KnowledgeBase, today: dt.date) -> Dict[str, Any]:
    """Answers reviewed over a year ago, answers past their next review date, and drafts."""
    old, due, drafts = [], [], []
    for topic, entry in kb.entries.items():
        review = entry.review
        title = kb.fill(entry.title)
        if not review.approved:
            drafts.append({"topic": topic, "title": title})
            continue
        row = {
            "topic": topic,
            "title": title,
            "reviewed_on": review.on.isoformat(),
            "next_due": review.next_due.isoformat(),
        }
        if (today - review.on).days > REVIEW_AGE_DAYS:
            old.append(row)
        if review.overdue(today):
            due.append(row)
    return {"older_than_a_year": old, "overdue": due, "drafts": drafts}
