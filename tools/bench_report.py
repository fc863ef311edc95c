"""`make bench-report`: the staff report over a year of a busy clinic, timed (the target: under a minute).

Fills a fresh SQLite tracker store (in a temporary folder) with TURNS patient turns (default
200,000: about 40,000 conversations of 3 to 8 turns) spread over the last 365 days, stored the
way the bot stores them: Rasa's `events` table, and per turn the `user` event, its
`user_featurization`, `action_respond`, the bot's messages (built by needlewise/replies.py, so the
`custom` of each turn is the real one) and `action_listen`; each conversation opens with the
session-start rows. About 70 % of the turns are answers over the shipped knowledge file's topics,
10 % "was this helpful?" clicks, 8 % fallback or out-of-scope questions (from about 300 wordings,
near-duplicates and [phone]/[email] placeholders among them), 2 % handoffs, 1 % urgent; 20 % of
the conversations are at the kiosk.

Then it times what `make report` does: `count_rows`, `build` over 365 days, and writing the
files (tools/report.py) into a temporary folder; checks that the report counted exactly the
turns, conversations and replies it generated; and writes `results/bench_report.json`.
Exit status 1 if a count is wrong or the report took longer than TARGET_SECONDS. Before timing,
the database file is dropped from the operating system's page cache, as after a restart
(`--warm` leaves it there).

SQLite only: it is what a single clinic runs (PostgreSQL is the cluster's store, where the same
query runs on the database server).

    python -m tools.bench_report [--turns N] [--keep DB_PATH] [--warm]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from needlewise import replies, settings
from needlewise.knowledge import KnowledgeBase
from needlewise.report import range_start as report_range_start
from needlewise.retention import KIOSK_PREFIX

TARGET_SECONDS = 60.0
DEFAULT_TURNS = 200_000
RANGE_DAYS = 365
DAY = 86_400.0
OUT = settings.ROOT / "results" / "bench_report.json"

#: The share of each reply kind, in % of all turns; the other 10 % are feedback clicks (FEEDBACK_AFTER_ANSWER).
KIND_WEIGHTS = {
    "answer": 70,
    "fallback": 5,
    "out_of_scope": 3,
    "handoff": 2,
    "urgent": 1,
    "greeting": 3,
    "chitchat": 2.5,
    "goodbye": 2,
    "menu": 1,
    "refer_clinician": 0.5,
}
#: After an answer, how often the next turn is a "was this helpful?" click: about 10 % of all turns (a
#: conversation's first turn, and a turn after a click, cannot be one)
FEEDBACK_AFTER_ANSWER = 0.18
HELPFUL_SHARE = 0.8
KIOSK_SHARE = 0.2
#: answers asked by pressing a topic button (the stored text is the payload, `/topic`) rather than typed
BUTTON_SHARE = 0.35
#: turns per conversation: 3 to 8, 5 on average (200,000 turns: about 40,000 conversations)
TURNS_PER_CONVERSATION = {3: 25, 4: 20, 5: 17, 6: 14, 7: 12, 8: 12}
#: conversations by hour of the day (UTC): a clinic's day, little at night
HOUR_WEIGHTS = [0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 2, 5, 8, 9, 9, 8, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1]
BATCH_CONVERSATIONS = 1000
MODEL_ID = "5f0c1d2e3b4a49c8a7d6e5f4a3b2c1d0"

#: The columns and index Rasa's SQLTrackerStore creates (SQLAlchemy's DDL for SQLite, as in var/conversations.db).
EVENTS_DDL = (
    "CREATE TABLE events (\n\tid INTEGER NOT NULL, \n\tsender_id VARCHAR(255) NOT NULL, \n\t"
    "type_name VARCHAR(255) NOT NULL, \n\ttimestamp FLOAT, \n\tintent_name VARCHAR(255), \n\t"
    "action_name VARCHAR(255), \n\tdata TEXT, \n\tPRIMARY KEY (id)\n)"
)
EVENTS_INDEX = "CREATE INDEX ix_events_sender_id ON events (sender_id)"
INSERT = (
    "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) VALUES (?, ?, ?, ?, ?, ?)"
)

# --- what patients type ------------------------------------------------------------------------------

#: Questions the bot does not answer: (reply kind, wording). Each comes in four wordings (see `_variants`).
UNANSWERED_BASE: Sequence[Tuple[str, str]] = (
    ("out_of_scope", "Do you treat lower back pain?"),
    ("out_of_scope", "Can dry needling help with migraines?"),
    ("out_of_scope", "Is there parking at the clinic?"),
    ("out_of_scope", "Do you do sports massage?"),
    ("out_of_scope", "Can I get a sick note from you?"),
    ("out_of_scope", "Do you offer cupping?"),
    ("out_of_scope", "Can dry needling help my knee?"),
    ("out_of_scope", "Are you open on Saturdays?"),
    ("out_of_scope", "Does the clinic have wheelchair access?"),
    ("out_of_scope", "Do you treat tennis elbow?"),
    ("out_of_scope", "Can I bring my child to the appointment?"),
    ("out_of_scope", "Do you do acupuncture for fertility?"),
    ("out_of_scope", "Which pillow is best for a stiff neck?"),
    ("out_of_scope", "Is dry needling good for plantar fasciitis?"),
    ("out_of_scope", "Is there a physio who speaks another language?"),
    ("out_of_scope", "What exercises help sciatica?"),
    ("out_of_scope", "Do you treat jaw pain?"),
    ("out_of_scope", "Can I pay by card?"),
    ("out_of_scope", "Do you sell kinesiology tape?"),
    ("out_of_scope", "Can dry needling help with anxiety?"),
    ("out_of_scope", "Which bus stops near the clinic?"),
    ("out_of_scope", "Do you treat horses?"),
    ("out_of_scope", "Can you help me lose weight?"),
    ("out_of_scope", "What is the wifi password?"),
    ("out_of_scope", "Can I get my x-ray results here?"),
    ("out_of_scope", "Do you do home visits?"),
    ("out_of_scope", "Can dry needling fix carpal tunnel?"),
    ("out_of_scope", "What will the weather be tomorrow?"),
    ("out_of_scope", "Do you treat whiplash after a car accident?"),
    ("out_of_scope", "Can I have a massage instead?"),
    ("out_of_scope", "Is a chiropractor better than a physio?"),
    ("out_of_scope", "Can dry needling help hip pain?"),
    ("out_of_scope", "Do you offer shockwave therapy?"),
    ("out_of_scope", "Where can I buy needles?"),
    ("out_of_scope", "Can you renew my prescription?"),
    ("out_of_scope", "Is there a gym I can use after?"),
    ("out_of_scope", "Can you email my invoice to [email]?"),
    ("out_of_scope", "Please call me back on [phone] about my knee"),
    ("out_of_scope", "My number is [phone], can someone ring me about parking?"),
    ("out_of_scope", "Send the massage price list to [email]"),
    ("fallback", "asdfgh"),
    ("fallback", "what about the other thing"),
    ("fallback", "needle stuff??"),
    ("fallback", "hmm ok so"),
    ("fallback", "is it the same as last time"),
    ("fallback", "my shoulder"),
    ("fallback", "and then what"),
    ("fallback", "what did the doctor mean by that"),
    ("fallback", "i don't get it"),
    ("fallback", "the pinchy thing"),
    ("fallback", "can it go wrong with my thing"),
    ("fallback", "next week or the one after"),
    ("fallback", "something about the needles again"),
    ("fallback", "does the blue one matter"),
    ("fallback", "what is the code for the door"),
    ("fallback", "same as before?"),
    ("fallback", "how about tuesdays"),
    ("fallback", "left or right side"),
    ("fallback", "do i need to bring anything else"),
    ("fallback", "ok but why"),
    ("fallback", "that one"),
    ("fallback", "my physio mentioned a thing in my arm"),
    ("fallback", "it hurts here"),
    ("fallback", "what if i move"),
    ("fallback", "the form"),
    ("fallback", "can my husband come in with me"),
    ("fallback", "text me at [phone]"),
    ("fallback", "reach me on [email] later"),
    ("fallback", "[phone]"),
    ("fallback", "call [phone] after 5"),
    ("fallback", "neck neck neck"),
    ("fallback", "help"),
    ("fallback", "???"),
    ("fallback", "lol"),
    ("fallback", "what was the other option"),
)
OTHER_TURNS: Dict[str, Sequence[Tuple[str, str]]] = {  # reply kind -> (intent, text)
    "greeting": (("greet", "hi"), ("greet", "hello"), ("greet", "good morning")),
    "goodbye": (("goodbye", "bye"), ("goodbye", "thanks, bye")),
    "chitchat": (("thank", "thanks!"), ("thank", "thank you"), ("bot_challenge", "are you a real person?")),
    "menu": (("ask_capabilities", "what can you help me with"), ("ask_capabilities", "/ask_capabilities")),
    "handoff": (
        ("ask_human", "can i talk to a person"),
        ("ask_human", "/ask_human"),
        ("ask_human", "i want to speak to reception"),
        ("ask_human", "my name is [name], call me on [phone]"),
    ),
    "refer_clinician": (("personal_decision", "should i stop my tablets before the session?"),),
}
#: (red flag, crisis, text): an urgent turn's text never reaches the report
URGENT_TURNS = (
    ("chest_pain", False, "I have chest pain and feel faint"),
    ("breathing", False, "i can't breathe properly since the needling"),
    ("crisis", True, "I don't want to live anymore"),
)
FEEDBACK_TEXTS = {True: ("/feedback_helpful", "that was really helpful"), False: ("/feedback_not_helpful", "no")}


def _variants(text: str, index: int) -> List[str]:
    """Four wordings of a question: as written, lower case without the mark, with a greeting, and one more."""
    plain = text.lower().rstrip("?!. ") or text
    greeting = ("hi, ", "hello ", "um ", "hey ")[index % 4] + plain
    if index % 3 == 0:
        last = "quick question: " + plain
    elif index % 3 == 1:
        last = plain + " please"
    else:  # a typo: two letters of the longest word swapped
        words = plain.split(" ")
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        word = words[longest]
        if len(word) > 3:
            words[longest] = word[:1] + word[2] + word[1] + word[3:]
        last = " ".join(words) + "?"
    return list(dict.fromkeys([text, plain, greeting, last]))


def unanswered_questions() -> List[Tuple[str, str]]:
    """(reply kind, text): about 300 wordings, near-duplicates among them."""
    out: List[Tuple[str, str]] = []
    for index, (kind, text) in enumerate(UNANSWERED_BASE):
        out += [(kind, wording) for wording in _variants(text, index)]
    return out


# --- the rows -----------------------------------------------------------------------------------------

_TS = "@@TS@@"
_MID = "@@MID@@"


def _template(event: Dict[str, Any]) -> str:
    return json.dumps({"event": event.pop("event"), "timestamp": _TS, **event}).replace(f'"{_TS}"', _TS)


def _metadata(surface: Optional[str] = None) -> Dict[str, Any]:
    base = {"model_id": MODEL_ID, "assistant_id": "needlewise"}
    return {"surface": surface, **base} if surface else base


def _user_template(text: str, intent: str, surface: str, others: Sequence[str]) -> str:
    ranking = [{"name": intent, "confidence": 1.0}]
    parse: Dict[str, Any] = {
        "intent": {"name": intent, "confidence": 1.0},
        "entities": [],
        "text": text,
        "message_id": _MID,
        "metadata": {"surface": surface},
    }
    if not text.startswith("/"):
        confidence = 0.55 + sum(map(ord, text)) % 44 / 100
        ranking = [{"name": intent, "confidence": confidence}] + [
            {"name": name, "confidence": (1 - confidence) / (n + 2)}
            for n, name in enumerate([other for other in others if other != intent][:9])
        ]
        parse["intent"]["confidence"] = confidence
        parse["text_tokens"] = [[m.start(), m.end()] for m in re.finditer(r"\w+|[^\w\s]", text)]
    parse["intent_ranking"] = ranking
    return _template(
        {
            "event": "user",
            "metadata": _metadata(surface),
            "text": text,
            "parse_data": parse,
            "input_channel": "socketio",
            "message_id": _MID,
        }
    )


def _bot_template(message: Dict[str, Any]) -> str:
    data = {"elements": None, "quick_replies": None, "buttons": message.get("buttons")}
    data.update({"attachment": None, "image": None, "custom": message.get("custom")})
    return _template({"event": "bot", "metadata": _metadata(), "text": message.get("text"), "data": data})


def _action_template(name: str, policy: Optional[str]) -> str:
    return _template(
        {
            "event": "action",
            "metadata": _metadata(),
            "name": name,
            "policy": policy,
            "confidence": 1.0 if policy or name == "action_session_start" else None,
            "action_text": None,
            "hide_rule_turn": policy is not None,
        }
    )


Row = Tuple[str, str, float, Optional[str], Optional[str], str]


class _Rows:
    """The stored rows of turns and session starts, from templates rendered once."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        #: the intents a user event's ranking lists after the one chosen
        self.intents = [*kb.entries, "out_of_scope", "nlu_fallback", "greet", "ask_human", "thank", "goodbye"]
        self._users: Dict[Tuple[str, str, str], str] = {}
        self._bots: Dict[Any, List[str]] = {}
        self.featurization = _template(
            {"event": "user_featurization", "metadata": _metadata(), "use_text_for_featurization": False}
        )
        self.respond = _action_template("action_respond", "RulePolicy")
        self.listen = _action_template("action_listen", "RulePolicy")
        self.session = [
            ("action", "action_session_start", _action_template("action_session_start", None)),
            ("session_started", None, _template({"event": "session_started", "metadata": _metadata()})),
            ("action", "action_listen", _action_template("action_listen", None)),
        ]
        self.slots = {
            surface: _template(
                {
                    "event": "slot",
                    "metadata": _metadata(),
                    "name": "session_started_metadata",
                    "value": {"surface": surface},
                }
            )
            for surface in ("web", "kiosk")
        }

    def bots(self, *key: Any) -> List[str]:
        """The bot rows of a reply: `key` is the reply kind and what it depends on (see `_reply`)."""
        if key not in self._bots:
            self._bots[key] = [_bot_template(message) for message in _reply(self.kb, *key)]
        return self._bots[key]

    def session_start(self, sender: str, surface: str, stamp: float) -> Iterator[Row]:
        yield sender, "slot", stamp, None, "session_started_metadata", self.slots[surface].replace(_TS, repr(stamp))
        for n, (type_name, action, template) in enumerate(self.session, start=1):
            at = stamp + n * 0.00003
            yield sender, type_name, at, None, action, template.replace(_TS, repr(at))

    def turn(
        self, sender: str, surface: str, stamp: float, text: str, intent: str, bots: List[str], rng: random.Random
    ) -> Iterator[Row]:
        key = (text, intent, surface)
        if key not in self._users:
            self._users[key] = _user_template(text, intent, surface, self.intents[len(self._users) % 7 :])
        mid = f"{rng.getrandbits(128):032x}"
        yield sender, "user", stamp, intent, None, self._users[key].replace(_TS, repr(stamp)).replace(_MID, mid)
        at = stamp + 0.002 + rng.random() * 0.2
        yield sender, "user_featurization", at, None, None, self.featurization.replace(_TS, repr(at))
        at += 0.00001
        yield sender, "action", at, None, "action_respond", self.respond.replace(_TS, repr(at))
        for template in bots:
            at += 0.000002
            yield sender, "bot", at, None, None, template.replace(_TS, repr(at))
        at += 0.0004
        yield sender, "action", at, None, "action_listen", self.listen.replace(_TS, repr(at))


# --- what was generated ---------------------------------------------------------------------------------


@dataclass
class Generated:
    """What the generator stored, counted the way the report should count it."""

    turns: int = 0
    events: int = 0
    senders: Set[str] = field(default_factory=set)
    surface_turns: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    asked: Counter = field(default_factory=Counter)
    helpful: Counter = field(default_factory=Counter)
    not_helpful: Counter = field(default_factory=Counter)
    #: (text, sender) of each fallback or out-of-scope question typed
    unanswered: List[Tuple[str, str]] = field(default_factory=list)
    #: UTC day -> widget_turns, kiosk_turns, urgent, handoff
    daily: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    #: (UTC day, surface) -> senders
    daily_senders: Dict[Tuple[str, str], Set[str]] = field(default_factory=lambda: defaultdict(set))

    @property
    def conversations(self) -> int:
        return len(self.senders)

    def expected_totals(self) -> Dict[str, int]:
        """What the report's `totals` must say."""
        return {
            "conversations": self.conversations,
            "turns": self.turns,
            "widget_turns": self.surface_turns["widget"],
            "kiosk_turns": self.surface_turns["kiosk"],
            "answers": self.kinds["answer"],
            "unanswered": self.kinds["fallback"] + self.kinds["out_of_scope"],
            "urgent": self.kinds["urgent"],
            "handoffs": self.kinds["handoff"],
            "helpful": sum(self.helpful.values()),
            "not_helpful": sum(self.not_helpful.values()),
        }


_DAYS: Dict[int, str] = {}


def _day(stamp: float) -> str:
    number = int(stamp // DAY)
    if number not in _DAYS:
        _DAYS[number] = dt.datetime.fromtimestamp(number * DAY, dt.timezone.utc).date().isoformat()
    return _DAYS[number]


def _zipf(count: int, exponent: float) -> List[float]:
    """Cumulative weights: the first the most common, a long tail."""
    total, out = 0.0, []
    for rank in range(count):
        total += 1.0 / (rank + 1) ** exponent
        out.append(total)
    return out


class _Patients:
    """Draws conversations: who, where, when, and what each turn is."""

    def __init__(self, kb: KnowledgeBase, rng: random.Random) -> None:
        self.kb, self.rng = kb, rng
        self.rows = _Rows(kb)
        self.topics = list(kb.entries)
        self.topic_weights = _zipf(len(self.topics), 0.8)
        questions = unanswered_questions()
        rng.shuffle(questions)
        self.questions = questions
        self.question_weights = _zipf(len(questions), 1.0)
        self.kinds = list(KIND_WEIGHTS)
        self.kind_weights = list(KIND_WEIGHTS.values())
        self.typed = {
            topic: list(dict.fromkeys([title.lower(), title.lower().rstrip("?"), f"tell me: {title.lower()}"]))
            for topic, title in ((t, kb.fill(kb.entry(t).title)) for t in self.topics)
        }

    @staticmethod
    def start_times(count: int, since: float, until: float, rng: random.Random) -> List[float]:
        """When conversations start, in order: more in the clinic's hours (HOUR_WEIGHTS)."""
        out = []
        while len(out) < count:
            stamp = rng.uniform(since, until)
            if rng.random() * max(HOUR_WEIGHTS) < HOUR_WEIGHTS[int(stamp % DAY // 3600)]:
                out.append(stamp)
        return sorted(out)

    def conversation(self, turns: int, start: float, made: Generated) -> List[Row]:
        rng, rows = self.rng, self.rows
        kiosk = rng.random() < KIOSK_SHARE
        surface, stored_surface = ("kiosk", "kiosk") if kiosk else ("widget", "web")
        sender = (KIOSK_PREFIX if kiosk else "") + f"{rng.getrandbits(64):016x}"
        out = list(rows.session_start(sender, stored_surface, start))
        stamp, last_answer = start + rng.uniform(0.005, 0.02), None
        for _ in range(turns):
            stamp += rng.uniform(6, 90)
            bots: List[str]
            if last_answer is not None and rng.random() < FEEDBACK_AFTER_ANSWER:
                kind, helpful = "feedback", rng.random() < HELPFUL_SHARE
                text = FEEDBACK_TEXTS[helpful][0 if rng.random() < 0.85 else 1]
                intent = "feedback_helpful" if helpful else "feedback_not_helpful"
                bots = rows.bots("feedback", helpful, last_answer)
                (made.helpful if helpful else made.not_helpful)[last_answer] += 1
                last_answer = None
            else:
                kind = rng.choices(self.kinds, self.kind_weights)[0]
                last_answer = None
                if kind == "answer":
                    topic = rng.choices(self.topics, cum_weights=self.topic_weights)[0]
                    text = f"/{topic}" if rng.random() < BUTTON_SHARE else rng.choice(self.typed[topic])
                    intent, last_answer = topic, topic
                    bots = rows.bots("answer", topic)
                    made.asked[topic] += 1
                elif kind in ("fallback", "out_of_scope"):
                    kind, text = rng.choices(self.questions, cum_weights=self.question_weights)[0]
                    intent = "nlu_fallback" if kind == "fallback" else "out_of_scope"
                    bots = rows.bots(kind)
                    made.unanswered.append((text, sender))
                elif kind == "urgent":
                    flag, crisis, text = rng.choice(URGENT_TURNS)
                    intent = "urgent"
                    bots = rows.bots("urgent", flag, crisis, kiosk)
                else:
                    intent, text = rng.choice(OTHER_TURNS[kind])
                    bots = rows.bots(kind)
            made.turns += 1
            made.kinds[kind] += 1
            made.surface_turns[surface] += 1
            made.senders.add(sender)
            day = _day(stamp)
            made.daily[day][f"{surface}_turns"] += 1
            made.daily_senders[(day, surface)].add(sender)
            turn = list(rows.turn(sender, stored_surface, stamp, text, intent, bots, rng))
            if kind in ("urgent", "handoff"):
                custom_row = next(row for row in turn if row[1] == "bot" and '"custom": {' in row[5])
                made.daily[_day(custom_row[2])][kind] += 1
            out += turn
        made.events += len(out)
        return out


def _reply(kb: KnowledgeBase, kind: str, *about: Any) -> List[Dict[str, Any]]:
    """The bot's reply of a kind, as needlewise/dialogue.py builds it."""
    if kind == "answer":
        return replies.answer(kb, about[0])
    if kind == "feedback":
        helpful, topic = about
        if helpful:
            return replies.simple(kb, "feedback", "feedback_helpful", helpful=True, about=topic)
        buttons = [replies.button(replies.label(kb, "talk_to_front_desk"), "/ask_human")]
        return replies.simple(kb, "feedback", "feedback_not_helpful", buttons, helpful=False, about=topic)
    if kind == "urgent":
        flag, crisis, kiosk = about
        return replies.urgent(kb, crisis=crisis, red_flag=flag, kiosk=kiosk)
    if kind == "fallback":
        return replies.fallback(kb)
    if kind == "out_of_scope":
        return replies.simple(kb, "out_of_scope", "out_of_scope", replies.starter_buttons(kb))
    if kind == "greeting":
        return replies.greeting(kb)
    if kind == "menu":
        return replies.menu(kb)
    if kind == "handoff":
        return replies.handoff(kb)
    if kind == "refer_clinician":
        return replies.refer_clinician(kb)
    if kind == "chitchat":
        return replies.simple(kb, "chitchat", "thanks")
    return replies.simple(kb, "goodbye", "goodbye")


def create_table(connection: sqlite3.Connection) -> None:
    """The `events` table as Rasa's SQLTrackerStore creates it (the index comes after the rows: faster)."""
    connection.execute(EVENTS_DDL)


def generate(
    path: Path,
    turns: int,
    kb: KnowledgeBase,
    now: Optional[float] = None,
    days: float = RANGE_DAYS,
    seed: int = 2024,
    progress: Optional[Callable[[int], None]] = None,
) -> Generated:
    """Writes a fresh SQLite tracker store at `path` with `turns` turns over the `days` days before `now`."""
    now = time.time() if now is None else now
    rng = random.Random(seed)  # noqa: S311 - draws patients, not secrets
    patients = _Patients(kb, rng)
    lengths: List[int] = []
    sizes, weights = list(TURNS_PER_CONVERSATION), list(TURNS_PER_CONVERSATION.values())
    left = turns
    while left > 0:
        lengths.append(min(rng.choices(sizes, weights)[0], left))
        left -= lengths[-1]
    # inside the range with a margin either side: a conversation lasts at most 8 x 90 s
    since, until = report_range_start(now, days) + 600, now - 1200
    # a clock of its own: what the patients say does not depend on the time of day it runs
    starts = _Patients.start_times(len(lengths), since, until, random.Random(seed + 1))  # noqa: S311 - as above
    made = Generated()
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        old.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        create_table(connection)
        for first in range(0, len(lengths), BATCH_CONVERSATIONS):
            batch: List[Row] = []
            for length, start in zip(
                lengths[first : first + BATCH_CONVERSATIONS], starts[first : first + BATCH_CONVERSATIONS], strict=True
            ):
                batch += patients.conversation(length, start, made)
            batch.sort(key=lambda row: row[2])  # conversations at the same time interleave, as in a real store
            with connection:
                connection.executemany(INSERT, batch)
            if progress is not None:
                progress(sum(lengths[first : first + BATCH_CONVERSATIONS]))
        connection.execute(EVENTS_INDEX)
        connection.commit()
        connection.execute("PRAGMA journal_mode=WAL")  # as the bot's store runs (rasa_addons/tracker_store.py)
    finally:
        connection.close()
    return made


# --- the benchmark ---------------------------------------------------------------------------------------


def evict(path: Path) -> bool:
    """Drops this one file from the operating system's page cache (as after a restart); False where it cannot."""
    if not hasattr(os, "posix_fadvise"):
        return False
    for name in (path, path.with_name(path.name + "-wal")):
        if name.exists():
            descriptor = os.open(name, os.O_RDONLY)
            try:
                os.fsync(descriptor)  # only pages on disk can be dropped
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)
    return True


def check(report: Dict[str, Any], made: Generated) -> List[str]:
    """What the report counted differently from what was generated."""
    problems = []
    for key, expected in made.expected_totals().items():
        if report["totals"][key] != expected:
            problems.append(f"totals.{key}: the report says {report['totals'][key]}, generated {expected}")
    asked = {t["topic"]: t["asked"] for t in report["topics"] if t["asked"]}
    if asked != dict(made.asked):
        problems.append("the answers per topic differ from those generated")
    shown = sum(g["times"] for g in report["unanswered"]["shown"]) + report["unanswered"]["hidden_questions"]
    if shown != len(made.unanswered):
        problems.append(f"unanswered questions: the report has {shown}, generated {len(made.unanswered)}")
    return problems


def run(
    turns: int,
    keep: Optional[Path],
    out: Path,
    min_count: int = 2,
    seed: int = 2024,
    kb: Optional[KnowledgeBase] = None,
    cold: bool = True,
) -> Dict[str, Any]:
    """Generates, times the report, checks its counts, writes `out`; returns what it wrote."""
    from tqdm import tqdm

    from needlewise.knowledge import KnowledgeStore
    from needlewise.report import build, count_rows
    from tools.report import write

    kb = kb or KnowledgeStore().get()
    with tempfile.TemporaryDirectory(prefix="needlewise-bench-report-") as folder:
        database = keep or Path(folder) / "conversations.db"
        now = time.time()
        started = time.monotonic()
        with tqdm(total=turns, unit=" turns", unit_scale=True, file=sys.stderr, disable=None) as bar:
            made = generate(database, turns, kb, now=now, seed=seed, progress=bar.update)
        seconds_generate = time.monotonic() - started
        size_mb = database.stat().st_size / 1e6
        print(
            f"Generated {made.turns:,} turns in {made.conversations:,} conversations ({made.events:,} events, "
            f"{size_mb:,.0f} MB) in {seconds_generate:.1f} s: {database}"
        )
        url = f"sqlite:///{database}"
        cache = "cold" if cold and evict(database) else "warm"
        started = time.monotonic()
        events = count_rows(url, RANGE_DAYS, now=now)
        seconds_count = time.monotonic() - started
        with tqdm(total=events, unit=" events", unit_scale=True, file=sys.stderr, disable=None) as bar:
            report = build(url, kb, RANGE_DAYS, min_count, now=now, progress=bar.update)
        seconds_build = time.monotonic() - started - seconds_count
        write(report, Path(folder) / "report")
        seconds_total = time.monotonic() - started
    problems = check(report, made)
    if events != made.events:
        problems.append(f"count_rows says {events} events, generated {made.events}")
    totals = report["totals"]
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "turns": made.turns,
        "conversations": made.conversations,
        "events": events,
        "database_mb": round(size_mb, 1),
        "seconds_generate": round(seconds_generate, 2),
        "seconds_count": round(seconds_count, 2),
        "seconds_build": round(seconds_build, 2),
        "seconds_write": round(seconds_total - seconds_count - seconds_build, 2),
        "seconds_total": round(seconds_total, 2),
        "target_seconds": TARGET_SECONDS,
        "page_cache": cache,
        "report_turns": totals["turns"],
        "report_conversations": totals["conversations"],
        "unanswered_groups_shown": len(report["unanswered"]["shown"]),
        "counts_match": not problems,
        "passed": not problems and seconds_total <= TARGET_SECONDS,
        "machine": f"{platform.machine()}, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
    }
    print(
        f"Read {events:,} events: the report counted {totals['turns']:,} turns in {totals['conversations']:,} "
        f"conversations (generated {made.turns:,} in {made.conversations:,}). count_rows {seconds_count:.1f} s, "
        f"build {seconds_build:.1f} s, files {result['seconds_write']:.1f} s: {seconds_total:.1f} s in all "
        f"(target {TARGET_SECONDS:.0f} s; {'read from disk: cold cache' if cache == 'cold' else 'warm cache'})."
    )
    for problem in problems:
        print(f"WRONG COUNT: {problem}", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{'PASSED' if result['passed'] else 'FAILED'}; wrote {out}")
    return result


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=DEFAULT_TURNS, help="patient turns to generate (default 200000)")
    parser.add_argument("--keep", type=Path, default=None, help="write the database here and keep it")
    parser.add_argument("--out", type=Path, default=OUT, help="the result file (default results/bench_report.json)")
    parser.add_argument("--min-count", type=int, default=settings.current().report_min_count)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--warm", action="store_true", help="leave the database in the page cache (default: drop it first, as cold)"
    )
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns: 1 or more")
    keep = args.keep.resolve() if args.keep else None
    result = run(args.turns, keep, args.out, args.min_count, args.seed, cold=not args.warm)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
