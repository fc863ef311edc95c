"""The deterministic red-flag layer: spots a patient describing an emergency, with spaCy's Matcher.

The patterns live in `bot/nlp/red_flags.yml` (see the comment at its top). A match counts when
it is something the patient reports ("my chest hurts", "short of breath since the session"),
not a general question ("can dry needling cause a collapsed lung?") or a hypothetical ("what
if I faint?"). Self-harm and crisis statements always count.

No Rasa imports: the NLU component and the channel safety net share this one detector.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import spacy
import yaml
from spacy.matcher import Matcher
from spacy.tokens import Doc

ROOT = Path(__file__).resolve().parent.parent
RED_FLAGS_FILE = ROOT / "bot" / "nlp" / "red_flags.yml"
CRISIS = "crisis"
WILDCARD_WIDTH = 4

_CONTRACTIONS = [
    (re.compile(r"[\u2018\u2019\u02bc`]"), "'"),
    (re.compile(r"\bcan'?t\b"), "can not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"\b(do|does|did|is|are|was|were|would|could|should|has|have|had|must)n'?t\b"), r"\1 not"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    (re.compile(r"\bi'?m\b"), "i am"),
    (re.compile(r"\bi'?ve\b"), "i have"),
    (re.compile(r"\bi'd\b"), "i would"),
    (re.compile(r"\bi'll\b"), "i will"),
    (re.compile(r"\bwanna\b"), "want to"),
    (re.compile(r"\bgonna\b"), "going to"),
]
_SENTENCE_END = re.compile(r"[.!?\n;]+")

QUESTION_STARTS = frozenset(
    [
        "can",
        "could",
        "does",
        "do",
        "did",
        "is",
        "are",
        "was",
        "were",
        "will",
        "would",
        "should",
        "might",
        "may",
        "what",
        "how",
        "why",
        "when",
        "where",
        "which",
        "who",
        "has",
        "have",
        "any",
        "anyone",
        "whats",
    ]
)
#: Words that make what follows them hypothetical or general rather than happening now.
HYPOTHETICAL = frozenset(
    [
        "if",
        "whether",
        "could",
        "would",
        "might",
        "ever",
        "anyone",
        "someone",
        "somebody",
        "people",
        "person",
        "patients",
        "risk",
        "risks",
        "chance",
        "chances",
        "possible",
        "possibly",
        "rare",
        "common",
    ]
)
FIRST_PERSON = frozenset(["i", "my", "me", "myself", "im"])
MODALS = frozenset(["can", "could", "will", "would", "should", "might", "may", "do", "does", "did"])


def normalise(text: str) -> str:
    """Lower case, contractions spelled out, so patterns need no apostrophes."""
    text = text.lower()
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class RedFlag:
    category: str
    matched: str
    sentence: str

    @property
    def crisis(self) -> bool:
        return self.category == CRISIS


class RedFlagDetector:
    """Finds red flags in a message. Build once; `detect` is cheap and thread-safe."""

    def __init__(self, patterns: Dict[str, Sequence[str]], nlp: Optional[spacy.language.Language] = None):
        self.nlp = nlp or spacy.blank("en")
        self.matcher = Matcher(self.nlp.vocab)
        self.pattern_count = 0
        for category, lines in patterns.items():
            token_patterns = [p for line in lines for p in self._expand(line)]
            self.pattern_count += len(token_patterns)
            self.matcher.add(category, token_patterns)

    def _tokens(self, words: str) -> List[str]:
        return [t.lower_ for t in self.nlp.make_doc(normalise(words))]

    def _expand(self, line: str) -> List[List[dict]]:
        slots = []
        for slot in line.split():
            if slot == "*":
                slots.append([[{"OP": "?"}] * WILDCARD_WIDTH])
            else:
                slots.append([[{"LOWER": t} for t in self._tokens(alt.replace("_", " "))] for alt in slot.split("|")])
        return [[token for part in combo for token in part] for combo in itertools.product(*slots)]

    def detect(self, text: str) -> List[RedFlag]:
        """Every red flag the patient reports in `text` (crisis first), without duplicates."""
        if not text or not text.strip():
            return []
        found: Dict[str, RedFlag] = {}
        for sentence in _SENTENCE_END.split(normalise(text)):
            doc = self.nlp.make_doc(sentence.strip())
            for match_id, start, end in self.matcher(doc):
                category = self.nlp.vocab.strings[match_id]
                if category in found:
                    continue
                if category == CRISIS or self._reported(doc, start):
                    found[category] = RedFlag(category, doc[start:end].text, doc.text)
        return sorted(found.values(), key=lambda flag: (not flag.crisis, flag.category))

    @staticmethod
    def _reported(doc: Doc, start: int) -> bool:
        """True when the words before the match state it happens to the patient now."""
        before = [t.lower_ for t in doc[:start]]
        if HYPOTHETICAL.intersection(before):
            return False
        opens_question = bool(before) and before[0] in QUESTION_STARTS
        # "can i get ...", "will i faint ..." ask about the future, not the present
        asks_about_self = len(before) >= 2 and before[0] in MODALS and before[1] in FIRST_PERSON
        owned = bool(FIRST_PERSON.intersection(before[-5:]))
        if asks_about_self and not FIRST_PERSON.intersection(before[2:]):
            return False
        if opens_question and "should" in before:
            # "when should i worry about chest pain?" asks for advice; "what should i do, my chest
            # hurts" reports: only a first-person word right before the symptom counts here.
            return bool(FIRST_PERSON.intersection(before[-2:]))
        if opens_question:
            return owned
        return True


def load_patterns(path: Path = RED_FLAGS_FILE) -> Dict[str, List[str]]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return {category: list(lines) for category, lines in data["categories"].items()}


@functools.cache
def default_detector(path: Path = RED_FLAGS_FILE) -> RedFlagDetector:
    return RedFlagDetector(load_patterns(path))


def summary(flags: Sequence[RedFlag]) -> Tuple[bool, Optional[str]]:
    """(is it a crisis, the first category) for a reply."""
    return (any(f.crisis for f in flags), flags[0].category if flags else None)
