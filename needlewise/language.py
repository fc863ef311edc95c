"""Which language a patient wrote in: English, or another one the assistant does not answer in yet.

Two signals, both in `bot/nlp/languages.yml`: the script of the letters (Arabic, Cyrillic, CJK,
...) and, for Latin letters, common words of each language that English messages do not use.
Deterministic and cheap (no model), and it leans to English: a message counts as another
language only on clear evidence, so a misspelled English question is never turned away.

No Rasa imports: the NLU component and the tests share this module.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Mapping, Optional, Sequence

import yaml

from needlewise.settings import ROOT

LANGUAGES_FILE = ROOT / "bot" / "nlp" / "languages.yml"
ENGLISH = "en"
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


def _script(char: str) -> Optional[str]:
    """The script of a letter, from its Unicode name ("ARABIC LETTER ALEF" -> "Arabic")."""
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    if name.startswith("CJK"):
        return "CJK"
    return name.split(" ", 1)[0].capitalize()


@dataclass(frozen=True)
class Guess:
    """The language found (`en` when in doubt) and why."""

    language: str
    reason: str

    @property
    def english(self) -> bool:
        return self.language == ENGLISH


class LanguageDetector:
    def __init__(
        self,
        scripts: Mapping[str, Sequence[str]],
        words: Mapping[str, Sequence[str]],
        min_words: int = 2,
        short_message: int = 3,
    ):
        if ENGLISH not in words:
            raise ValueError("languages.yml: `words` needs an `en` list")
        self.script_language = {script: lang for lang, names in scripts.items() for script in names}
        for lang, ws in words.items():
            odd = [w for w in ws if not isinstance(w, str)]
            if odd:
                raise ValueError(f"languages.yml: words.{lang} has {odd!r}, not words: put them in quotes")
        self.words: Dict[str, FrozenSet[str]] = {lang: frozenset(w.lower() for w in ws) for lang, ws in words.items()}
        self.min_words = min_words
        self.short_message = short_message

    def detect(self, text: str) -> Guess:
        letters = [c for c in text if c.isalpha()]
        if not letters:
            return Guess(ENGLISH, "no letters")
        counts: Dict[str, int] = {}
        for char in letters:
            if char.isascii():
                continue
            script = _script(char)
            if script and script != "Latin":
                counts[script] = counts.get(script, 0) + 1
        if counts:
            script, count = max(counts.items(), key=lambda item: item[1])
            if count * 2 > len(letters):
                return Guess(self.script_language.get(script, "und"), f"{script} letters")
        tokens = [t.lower().replace("\u2019", "'") for t in _WORD.findall(text)]
        hits = {lang: sum(t in ws for t in tokens) for lang, ws in self.words.items()}
        english = hits.pop(ENGLISH)
        if not hits:
            return Guess(ENGLISH, "no other language listed")
        other, found = max(hits.items(), key=lambda item: item[1])
        if found >= self.min_words and found > english:
            return Guess(other, f"{found} {other} words, {english} English")
        if found >= 1 and english == 0 and len(tokens) <= self.short_message:
            return Guess(other, f"a short message in {other}")
        return Guess(ENGLISH, f"{english} English words, at most {found} of another language")


def readable(text: str, known: FrozenSet[str]) -> bool:
    """False for letters that make no known word at all ("qwxz blorp"): nothing to understand.

    A message with any known word, or with no letters of the Latin script, counts as readable.
    """
    words = [w.lower() for w in _WORD.findall(text)]
    if not words or not all(w.isascii() for w in words):
        return True
    return any(w in known or w.split("'")[0] in known for w in words)


def load_known_words(path: Path = LANGUAGES_FILE) -> FrozenSet[str]:
    """The chat words of languages.yml, every language's words and the clinic vocabulary."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    words = {str(w).lower() for w in data.get("chat") or []}
    words |= {str(w).lower() for ws in data["words"].values() for w in ws}
    vocabulary = Path(path).parent / "vocabulary.yml"
    if vocabulary.is_file():
        for phrases in (yaml.safe_load(vocabulary.read_text(encoding="utf-8")) or {}).values():
            words |= {w for phrase in phrases for w in str(phrase).lower().split()}
    return frozenset(words)


def load(path: Path = LANGUAGES_FILE) -> LanguageDetector:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return LanguageDetector(
        data.get("scripts") or {},
        data["words"],
        int(data.get("min_words", 2)),
        int(data.get("short_message", 3)),
    )


@functools.cache
def default_detector(path: Path = LANGUAGES_FILE) -> LanguageDetector:
    return load(path)
