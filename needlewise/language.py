"""Which language a patient wrote in: English, or another one the assistant does not answer in yet.

Two signals, both in `bot/nlp/languages.yml`: the script of the letters (Arabic, Cyrillic, CJK,
...) and, for Latin letters, common words of each language that English messages do not use.
Deterministic and cheap (no model), and it leans to English: a message counts as another
language only on clear evidence, so a misspelled English question is never turned away.

No Rasa imports: the NLU component and the tests share this module.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, Mapping, Optional, Sequence, Tuple

import yaml

from needlewise.settings import ROOT

LANGUAGES_FILE = ROOT / "bot" / "nlp" / "languages.yml"
ENGLISH = "en"
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")
#: What redaction puts in place of a detail (needlewise/inputs.py): "[phone]", "Dr. [name]".
_REDACTED = re.compile(r"\[[a-z_]+\]")
#: What the detector counts as a word: letters, with digits inside (Arabizi writes sounds with digits: 3ndi, ra2ba).
_TOKEN = re.compile(r"[^\W_]*[^\W\d_][^\W_]*(?:['\u2019-][^\W_]+)*")
#: A word shaped like Arabizi: Latin letters with a digit that stands for an Arabic sound (2 hamza, 3 ain,
#: 5 kha, 6 ta, 7 ha, 8 gha, 9 qaf) beside a letter, two letters at least ("3andi", "ma2tou3", "sob7").
_ARABIZI = re.compile(r"(?=(?:[0-9]*[a-z]){2})[a-z0-9]*(?:[a-z][235-9]|[235-9][a-z])[a-z0-9]*")
#: Latin words with such a digit that are not Arabizi: ordinals, times, doses, "2day", "mp3".
_NOT_ARABIZI = re.compile(
    r"\d+(?:st|nd|rd|th|am|pm|hrs?|mins?|mg|ml|kg|cm|mm|lbs?|yo|yrs?|wks?|days?|x)|mp[34]|h2o|[0-9]g|gr8|l8r|m8"
)
ARABIC = "ar"
#: English words Arabizi writers use as they are ("y3awer el dry needling?"): they do not make a message English.
_LOANWORDS = frozenset({"dry", "needling", "needle", "needles", "trigger", "point", "points", "session", "sessions"})


def arabizi_words(tokens: Sequence[str]) -> int:
    """How many of a message's (lower-case) words are shaped like Arabizi."""
    return sum(1 for t in tokens if _ARABIZI.fullmatch(t) and not _NOT_ARABIZI.fullmatch(t))


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
    """The language found (`en` when in doubt), why, and whether the evidence is clear.

    Clear (`sure`): most letters are of a script only one language here uses, or a message longer
    than `short_message` words has at least `min_words` words of the language and more of them
    than of any other. A short message ("ok", "obrigado", "/booking") is never clear.
    """

    language: str
    reason: str
    sure: bool = False

    @property
    def english(self) -> bool:
        return self.language == ENGLISH


#: A second opinion on a Latin-script message: text -> (language code, probability).
SecondOpinion = Callable[[str], Tuple[str, float]]


class LanguageDetector:
    def __init__(
        self,
        scripts: Mapping[str, Sequence[str]],
        words: Mapping[str, Sequence[str]],
        min_words: int = 2,
        short_message: int = 3,
        second_opinion: Optional[SecondOpinion] = None,
        min_probability: float = 0.9,
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
        self.second_opinion = second_opinion
        self.min_probability = min_probability

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
                return Guess(self.script_language.get(script, "und"), f"{script} letters", sure=True)
            # "شو يعني dry needling": the treatment's English name inside a message in another script
            words = _WORD.findall(text)
            in_script = sum(any(_script(c) == script for c in word) for word in words)
            if in_script * 3 >= len(words) and in_script >= 1:
                return Guess(self.script_language.get(script, "und"), f"{in_script} of {len(words)} words", sure=True)
        tokens = [t.lower().replace("\u2019", "'") for t in _TOKEN.findall(text)]
        hits = {lang: sum(t in ws for t in tokens) for lang, ws in self.words.items()}
        english = hits.pop(ENGLISH)
        long_enough = len(tokens) > self.short_message and not text.lstrip().startswith("/")
        shaped = arabizi_words(tokens)
        if shaped and ARABIC in self.words:
            # Arabizi ("ma 2dert atnafas mn el sob7"): a word with an Arabic sound written as a digit, and
            # no English word, or two such words (at least half as many as the English ones), or with
            # the listed Arabizi words more of them than English words
            arabizi = sum(1 for t in tokens if t in self.words[ARABIC] or _ARABIZI.fullmatch(t))
            plain = sum(1 for t in tokens if t in self.words[ENGLISH] and t not in _LOANWORDS)
            if plain == 0 or (shaped >= 2 and shaped * 2 >= plain) or (arabizi >= 2 and arabizi > plain):
                return Guess(ARABIC, f"{arabizi} Arabizi words, {plain} English", sure=long_enough)
        if not hits:
            return Guess(ENGLISH, "no other language listed", sure=long_enough and english >= self.min_words)
        other, found = max(hits.items(), key=lambda item: item[1])
        if found >= self.min_words and found > english:
            return Guess(other, f"{found} {other} words, {english} English", sure=long_enough)
        if found >= 1 and english == 0 and len(tokens) <= self.short_message:
            return Guess(other, f"a short message in {other}")
        if found >= 1 and self.second_opinion is not None:
            # Few listed words: a statistical identifier decides, if a word of its language is there too
            named, probability = self.second_opinion(text)
            if named in hits and hits[named] >= 1 and probability >= self.min_probability:
                return Guess(named, f"identifier: {named} ({probability:.2f})", sure=long_enough)
        sure = long_enough and english >= self.min_words and english > found
        return Guess(ENGLISH, f"{english} English words, at most {found} of another language", sure=sure)


def choose(
    guess: Guess,
    served: Sequence[str],
    conversation: Optional[str] = None,
    page: Optional[str] = None,
    default: str = ENGLISH,
) -> str:
    """The language to answer in (a primary code of `served`), from clearest evidence to weakest.

    1. the message itself, when its language is clear and served;
    2. the conversation's language so far (a short or unclear message keeps it);
    3. a short message with words of one served language only ("obrigado"), at a conversation's start;
    4. the page's language (the widget's `data-lang`, the kiosk's choice);
    5. the default language.
    """
    if guess.sure and guess.language in served:
        return guess.language
    if conversation in served:
        return str(conversation)
    if not guess.english and guess.language in served:
        return guess.language
    if page in served:
        return str(page)
    return default


def readable(text: str, known: FrozenSet[str]) -> bool:
    """False for letters that make no known word at all ("qwxz blorp"): nothing to understand.

    A message with any known word, or with no letters of the Latin script, counts as readable. The
    marks redaction leaves ("[phone]", "[name]": needlewise/inputs.py) are not the patient's words.
    """
    words = [w.lower() for w in _WORD.findall(_REDACTED.sub(" ", text))]
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


def py3langid_opinion(settings: Mapping[str, Any]) -> SecondOpinion:
    """py3langid (pinned in requirements.txt; its model ships inside the package, checked here by
    SHA-256 against languages.yml) limited to the languages listed there."""
    import py3langid
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    model = Path(py3langid.__file__).parent / MODEL_FILE
    found = hashlib.sha256(model.read_bytes()).hexdigest()
    if found != str(settings["model_sha256"]).lower():
        raise ValueError(f"languages.yml: {model} has SHA-256 {found}, not the pinned identifier.model_sha256")
    identifier = LanguageIdentifier.from_pickled_model(str(model), norm_probs=True)
    identifier.set_languages(list(settings["languages"]))

    def opinion(text: str) -> Tuple[str, float]:
        named, probability = identifier.classify(text)
        return str(named), float(probability)

    return opinion


def load(path: Path = LANGUAGES_FILE) -> LanguageDetector:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    identifier = data.get("identifier")
    return LanguageDetector(
        data.get("scripts") or {},
        data["words"],
        int(data.get("min_words", 2)),
        int(data.get("short_message", 3)),
        py3langid_opinion(identifier) if identifier else None,
        float(identifier.get("min_probability", 0.9)) if identifier else 0.9,
    )


@functools.cache
def default_detector(path: Path = LANGUAGES_FILE) -> LanguageDetector:
    return load(path)


def reply_language(
    text: str,
    served: Sequence[str],
    conversation: Optional[str] = None,
    page: Optional[str] = None,
    default: str = ENGLISH,
) -> str:
    """The primary language to answer `text` in (`choose` over the default detector's guess): what the
    action server, the channel's own replies and the evaluation all use."""
    return choose(detected(text or ""), served, conversation, page, default)


@functools.lru_cache(maxsize=4096)
def detected(text: str) -> Guess:
    """The default detector's guess, remembered for the last few thousand messages (several pipeline
    components ask about the same message)."""
    return default_detector().detect(text)
