"""A clinic glossary per language: patients' words in Portuguese or Arabic, glossed in English.

The sentence encoder reads English only, and most training examples are English. A message in
another language is read a second time word by word through its glossary (`bot/nlp/glossary/pt.yml`,
`bot/nlp/glossary/ar.yml`): "quanto custa uma sessão de agulhamento seco?" becomes "how much cost a
session of dry needling", which the encoder and the English word counts understand. Nothing is
generated or shown to anyone: the gloss is only a feature for the classifier.

Matching is spelling-neutral (accents, Arabic diacritics and hamza forms, teh marbuta and alef
maqsura folded: `normalised_word`), tries phrases of up to four words first, and for Arabic also
the word without its attached prefixes (و، ف، ب، ل، ك، ال) and suffixes (pronouns, plurals).
A word with no gloss is left out. No Rasa imports.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import yaml

from needlewise.settings import ROOT

GLOSSARY_DIR = ROOT / "bot" / "nlp" / "glossary"
MAX_PHRASE = 4
_WORD = re.compile(r"[^\W_]+")
_FOLD = str.maketrans(
    {"\u0629": "\u0647", "\u0649": "\u064a", "\u0640": None, **{chr(0x660 + d): str(d) for d in range(10)}}
)
_REPEATS = re.compile(r"(.)\1{2,}")
#: Arabic prefixes and suffixes a word may carry, longest first (tried only for a word of 4+ letters).
_AR_PREFIXES = ("وبال", "وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك")
_AR_SUFFIXES = ("كما", "هما", "تين", "ات", "ين", "ون", "ها", "هم", "هن", "كم", "كن", "نا", "ني", "ه", "ك", "ي")  # noqa: RUF001


def normalised_word(word: str) -> str:
    """A word (or a text) without accents, Arabic diacritics or hamza marks, with Arabic letter variants
    and Arabic-Indic digits folded, lower case, and a letter typed three or more times once."""
    stripped = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
    return _REPEATS.sub(r"\1", stripped.translate(_FOLD).lower())


def _is_arabic(word: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in word)


def _stems(word: str) -> Iterator[str]:
    """The Arabic word without one prefix, one suffix, or both (longest first)."""
    prefixes = [p for p in _AR_PREFIXES if word.startswith(p) and len(word) - len(p) >= 2]
    suffixes = [s for s in _AR_SUFFIXES if word.endswith(s) and len(word) - len(s) >= 2]
    for prefix in prefixes:
        yield word[len(prefix) :]
    for suffix in suffixes:
        yield from _teh(word[: -len(suffix)])
    for prefix in prefixes:
        for suffix in suffixes:
            if len(word) - len(prefix) - len(suffix) >= 2:
                yield from _teh(word[len(prefix) : -len(suffix)])


def _teh(stem: str) -> Iterator[str]:
    """A stem, and if it ends in teh, the teh marbuta it was before a suffix (folded to heh)."""
    yield stem
    if stem.endswith("\u062a"):
        yield stem[:-1] + "\u0647"


class Glossary:
    """One language's glossary: normalised word or phrase -> English words."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        self.entries: Dict[Tuple[str, ...], str] = {}
        for phrase, english in entries.items():
            key = tuple(normalised_word(w) for w in _WORD.findall(str(phrase)))
            if key and str(english).strip():
                self.entries[key] = " ".join(str(english).split())

    def word(self, word: str) -> Optional[str]:
        """The English of one word (normalised first), if the glossary knows it."""
        return self._word(normalised_word(word))

    def _word(self, word: str) -> Optional[str]:
        found = self.entries.get((word,))
        if found is None and _is_arabic(word) and len(word) >= 4:
            found = next((self.entries[(stem,)] for stem in _stems(word) if (stem,) in self.entries), None)
        return found

    def gloss(self, text: str) -> str:
        """The English words of every known word and phrase of `text`, in order (unknown words left out)."""
        words = _WORD.findall(normalised_word(text))
        out: List[str] = []
        i = 0
        while i < len(words):
            for size in range(min(MAX_PHRASE, len(words) - i), 1, -1):
                found = self.entries.get(tuple(words[i : i + size]))
                if found is not None:
                    out.append(found)
                    i += size
                    break
            else:
                found = self._word(words[i])
                if found is not None:
                    out.append(found)
                i += 1
        return " ".join(out)

    def coverage(self, text: str) -> Tuple[int, int]:
        """(words glossed, words) of `text`: how much of a message the glossary reads."""
        words = _WORD.findall(normalised_word(text))
        known = sum(bool(self.gloss(w)) for w in words)
        return known, len(words)


def load(path: Path) -> Glossary:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = data.get("glossary") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: needs a `glossary:` mapping of word or phrase -> English words")
    return Glossary({str(k): str(v) for k, v in entries.items()})


@functools.cache
def for_language(language: str, folder: Path = GLOSSARY_DIR) -> Optional[Glossary]:
    """The glossary of a primary language (`pt`, `ar`), or None if it has none."""
    path = Path(folder) / f"{language}.yml"
    return load(path) if path.is_file() else None
