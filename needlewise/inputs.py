"""What a patient sends, made safe before Rasa sees it: cleaned, shortened, redacted, checked.

Pure Python, no Rasa imports. The channels (rasa_addons/channels.py) call `prepare` on every
message, so the tracker store and the logs only ever hold the cleaned, redacted text.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional, Tuple

from needlewise import settings
from needlewise.signing import verify

MAX_MESSAGE_CHARS = settings.current().max_message_chars
MAX_COMBINING_PER_CHAR = 2
SENDER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
#: A message is a button payload only as `/name`, with a valid token (never `/name{...}`).
PAYLOAD_PATTERN = re.compile(r"^/[a-z][a-z0-9_]{0,63}$")
FORGET_ME = re.compile(
    r"^\W*(please\s+)?(forget\s+(about\s+)?me|(delete|erase|remove|clear|wipe)\s+(this|my|our|the)\s+"
    r"(conversation|chat|data|messages|history|details))\W*$",
    re.IGNORECASE,
)


# --- cleaning --------------------------------------------------------------------------------------


def clean(text: str) -> str:
    """NFC-normalised, control characters and NUL removed, floods of combining marks trimmed."""
    text = unicodedata.normalize("NFC", text)
    out, marks = [], 0
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co") and char not in "\n\t\u200d":
            continue  # control, format (bidi overrides), surrogates, private use
        if category.startswith("M"):
            marks += 1
            if marks > MAX_COMBINING_PER_CHAR:
                continue
        else:
            marks = 0
        out.append(char)
    return re.sub(r"[ \t]+", " ", "".join(out)).strip()


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> Tuple[str, bool]:
    """At most `limit` characters, cut at a word boundary where one is near."""
    if len(text) <= limit:
        return text, False
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip(), True


# --- redaction -------------------------------------------------------------------------------------

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_NOT_NAMES = frozenset(
    [
        "a",
        "an",
        "the",
        "in",
        "on",
        "at",
        "not",
        "so",
        "very",
        "really",
        "just",
        "pregnant",
        "sore",
        "worried",
        "scared",
        "nervous",
        "fine",
        "ok",
        "okay",
        "good",
        "bad",
        "allergic",
        "diabetic",
        "asking",
        "wondering",
        "having",
        "taking",
        "here",
        "back",
        "new",
        "old",
        "from",
        "with",
        "going",
        "trying",
        "looking",
        "feeling",
        "on",
        "off",
    ]
)
_REDACTIONS = [
    ("[email]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("[link]", re.compile(r"https?://\S+", re.IGNORECASE)),
    (
        "[date]",
        re.compile(
            rf"\b(?:born|birthday|date of birth|d\.?o\.?b\.?)\b[\s:,]*(?:(?:is|on|was|in)\b[\s:,]*)*"
            rf"(?:the\s+)?(?:\d{{1,4}}(?:st|nd|rd|th)?[\s/.,-]*(?:of\s+)?)?(?:{_MONTHS}[\s/.,-]*)?"
            rf"(?:\d{{1,4}}(?:st|nd|rd|th)?[\s/.,-]*)?(?:\d{{2,4}})?",
            re.IGNORECASE,
        ),
    ),
    ("[date]", re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b")),
    (
        "[date]",
        re.compile(
            rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS},?\s+\d{{4}}"
            rf"|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})\b",
            re.IGNORECASE,
        ),
    ),
    ("[phone]", re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{5,}\d(?![\w/])")),
    ("[number]", re.compile(r"\b[A-Za-z]{0,3}\d{6,}\b")),
]
_WORD = r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*"
_NAME_INTRO = re.compile(
    r"\b(?i:(my name is|my name's|my names|name is|name:|i am called|i'm called|im called|call me|"
    r"this is|i am|i'm|im|it's|its|regards,?|thanks,?|cheers,?))"
    rf"((?:\s+{_WORD}){{1,3}})"
)
_EXPLICIT_NAME_INTROS = frozenset(
    ["my name is", "my name's", "my names", "name is", "name:", "i am called", "i'm called", "im called", "call me"]
)


def _redact_name(match: re.Match[str], explicit_only: bool = False) -> str:
    intro, words = match.group(1), match.group(2).split()
    explicit = intro.lower() in _EXPLICIT_NAME_INTROS
    first = words[0]
    if first.lower() in _NOT_NAMES or (not explicit and (explicit_only or not first[0].isupper())):
        return match.group(0)
    # the first word is the name; the next ones too while they are capitalised ("Sarah Jane Smith")
    taken = 1
    while taken < len(words) and words[taken][0].isupper() and words[taken].lower() not in _NOT_NAMES:
        taken += 1
    rest = " ".join(words[taken:])
    return f"{intro} [name]" + (f" {rest}" if rest else "")


def redact(text: str) -> str:
    """Phone numbers, e-mail addresses, dates of birth, long id numbers and names, replaced.

    Safety first: if taking a word for a name would hide a red flag ("I'm Bleeding"), only the
    explicit forms ("my name is ...") are redacted.
    """
    for label, pattern in _REDACTIONS:
        text = pattern.sub(label, text)
    named = _NAME_INTRO.sub(_redact_name, text)
    if named != text:
        from needlewise.red_flags import default_detector

        detector = default_detector()
        if {f.category for f in detector.detect(text)} - {f.category for f in detector.detect(named)}:
            named = _NAME_INTRO.sub(lambda m: _redact_name(m, explicit_only=True), text)
    return named


# --- payloads, senders, rate limits ----------------------------------------------------------------


def payload_or_text(text: str, token: object) -> str:
    """A signed `/name` button payload stays a payload; any other leading `/` becomes plain words."""
    if text.startswith("/"):
        if PAYLOAD_PATTERN.match(text) and verify(text, token):
            return text
        words = re.sub(r"[/{}\[\]@\"_]+", " ", text).strip()
        return words
    return text


def valid_sender(sender: object) -> bool:
    return isinstance(sender, str) and bool(SENDER_PATTERN.match(sender))


def is_forget_me(text: str) -> bool:
    return bool(FORGET_ME.match(text))


@dataclass
class Prepared:
    text: str
    truncated: bool
    empty: bool
    forget: bool


def prepare(text: Optional[str], token: object = None) -> Prepared:
    """Everything done to a patient's message before Rasa sees it."""
    raw = text or ""
    cut = raw[: MAX_MESSAGE_CHARS * 4]  # cleaning goes character by character: not past what could be kept
    shortened, truncated = shorten(clean(cut))
    final = payload_or_text(redact(shortened), token)
    return Prepared(final, truncated or len(cut) < len(raw), not final.strip(), is_forget_me(final))


class RateLimiter:
    """A sliding window per key (a sender, a client address): at most `limit` in `window` s."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self.hits: Dict[str, Deque[float]] = defaultdict(deque)
        self._pruned_at = float("-inf")

    def allow(self, key: str, now: Optional[float] = None) -> bool:
        if self.limit <= 0:
            return True
        now = time.monotonic() if now is None else now
        hits = self.hits[key]
        while hits and now - hits[0] > self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        if len(self.hits) > 100_000 and now - self._pruned_at > self.window:  # bounded memory, at most once a window
            self._pruned_at = now
            for stale in [k for k, v in self.hits.items() if not v or now - v[-1] > self.window]:
                del self.hits[stale]
        return True
