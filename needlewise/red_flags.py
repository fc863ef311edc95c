"""The deterministic red-flag layer: spots a patient describing an emergency, with spaCy's Matcher.

The patterns live in `bot/nlp/red_flags.yml` (see the comment at its top). A match counts when
it is something the patient reports ("my chest hurts", "short of breath since the session",
"is it normal that my chest hurts this much?"), not a general question ("can dry needling cause
a collapsed lung?"), a hypothetical ("what if I faint?"), a denial ("no chest pain at all"), a
past event ("I fainted once years ago") or someone else's history ("my dad had a stroke in
2019"). Self-harm and crisis statements always count.

English goes through spaCy's Matcher, after a small typo correction (`Speller`). Portuguese,
Spanish, French, German and Arabic emergencies are regular expressions per language
(`languages:` in the YAML file), matched on accent-folded, Arabic-normalised text (`fold`).

No Rasa imports: the NLU component and the channel safety net share this one detector.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import spacy
import yaml
from spacy.matcher import Matcher
from spacy.tokens import Doc

from needlewise.settings import ROOT

RED_FLAGS_FILE = ROOT / "bot" / "nlp" / "red_flags.yml"
CRISIS = "crisis"
WILDCARD_WIDTH = 4
#: The key, inside one language of `languages:`, for that language's negation/hypothetical cues.
NOT_BEFORE = "_not_before"
#: How many words before a match (other languages) are searched for `_not_before` cues.
LANGUAGE_WINDOW = 3
#: Keys, inside one language, for past/general/someone-else cues anywhere in the sentence, and
#: for the "happening now" cues that overrule them ("desmaiei uma vez" vs "desmaiei agora").
NOT_IN_SENTENCE = "_not_in_sentence"
NOW = "_now"
#: Words after which a `_not_before` cue no longer reaches ("ما حسيت بشي وبعدين صحيت على الارض").
CLAUSE_BREAK = "_clause_break"
LANGUAGE_CUES = (NOT_BEFORE, NOT_IN_SENTENCE, NOW, CLAUSE_BREAK)
#: In Arabic regexes `~` is a word start with any attached prefixes (و ف, then ب ل ك س, ال لل بال).
ARABIC_WORD_START = (
    r"(?<!\w)(?:[\u0648\u0641])?"  # wa-, fa-
    # bi-al-, ka-al-, li-l-, al-, bi-, li-, ka-, sa-
    r"(?:\u0628\u0627\u0644|\u0643\u0627\u0644|\u0644\u0644|\u0627\u0644|[\u0628\u0644\u0643\u0633])?"
)

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
    (re.compile(r"\b(it|that|there|what|he|she|who)'s\b"), r"\1 is"),
    (re.compile(r"\bwanna\b"), "want to"),
    (re.compile(r"\bgonna\b"), "going to"),
]
_SENTENCE_END = re.compile(r"[.!?\n;\u061f\u06d4]+")
_CLAUSE_PUNCT = re.compile(r"[,:\u060c]")
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_WA = "\u0648"  # "و", "and", attached to the next word
#: an Arabic letter stretched for emphasis ("مقطوووع"): no Arabic word has a letter three times running
_STRETCHED_ARABIC = re.compile(r"([\u0621-\u064a])\1{2,}")
_ARABIC_FOLD = str.maketrans(
    {
        "\u0640": None,  # tatweel
        "\u0671": "\u0627",  # alef wasla
        "\u0629": "\u0647",  # ta marbuta -> ha
        "\u0649": "\u064a",  # alef maqsura -> ya
        "\u06cc": "\u064a",  # Persian ya
        "\u06a9": "\u0643",  # keheh
    }
)
_YEAR = re.compile(r"^(19|20)\d\d$")
#: Arabizi words: a digit for an Arabic letter inside a word ("wa7ad", "ma2tou3"), or at its start ("3an").
_ARABIZI_INNER = re.compile(r"\b[a-z]+[235789][a-z]+")
_ARABIZI_START = re.compile(r"\b[2357][a-z]{2,}\b")


def _set(words: str) -> FrozenSet[str]:
    return frozenset(words.split())


# --- the words `_reported` reads ----------------------------------------------------------------

QUESTION_STARTS = _set(
    "can could does do did is are was were will would should might may what how why when where which who "
    "has have any anyone whats"
)
#: Words a sentence may open with before its real first word ("hi, can needling cause ...?").
FILLERS = _set(
    "hi hello hey hiya ok okay so and but also um umm uh er well please doc doctor sorry hmm oh btw yes "
    "yeah yea no quick question just one more thing dear thanks thank you good morning afternoon evening"
)
FIRST_PERSON = frozenset(["i", "my", "me", "myself", "im", "mine"])
MODALS = _set("can could will would should might may do does did")
#: Words that make what follows them hypothetical or general rather than happening now.
HYPOTHETICAL = _set(
    "if whether unless ever anyone anybody someone somebody people person patients risk risks chance "
    "chances possible possibly likely probably rare rarely prevent avoid complication complications "
    "happen happens momken mumkin mmkn wa7ad wahad"
)
#: General or habitual words: they give way when the patient also says it is happening now.
SOFT_GENERAL = _set("common commonly usual usually typical typically often sometimes always normally generally")
#: Generic words around a symptom in a sentence without "I" or "my".
GENERIC_AFTER = _set(
    "you your reported known case cases happen happens side effect effects rate rates complication "
    "complications can may might could would"
)
GENERIC_BEFORE = frozenset(["known", "any", "reported", "case", "cases"])
CONDITIONALS = frozenset(["if", "unless", "whether"])
#: "this dizzy", "so bad": a question about one's own symptom.
INTENSITIES = _set(
    "much bad badly severe dizzy weak numb long strong intense hard often many high hot swollen red faint sore"
)
WORRIES = _set("worried worry scared afraid nervous anxious concerned terrified frightened")
#: Where general information comes from ("the leaflet says bleeding that won't stop is ...").
SOURCES = _set("leaflet leaflets website websites article articles google internet forum brochure video")
#: "could/might/may" are hypothetical, unless followed by these ("I might have an infection").
PRESENT_SUSPICION = frozenset(["have", "be", "being"])
HYPOTHETICAL_PHRASES = (
    ("what", "if"),
    ("in", "case"),
    ("side", "effect"),
    ("side", "effects"),
    ("lead", "to"),
    ("leads", "to"),
    ("result", "in"),
    ("i", "will"),
    ("worry", "about"),
)
#: A treatment question ("can dry needling help my vertigo?"): one of these, then an object.
TREATS = _set(
    "help helps treat treats cure cures fix fixes relieve relieves ease eases reduce reduces improve improves prevents"
)
TREAT_OBJECTS = _set("my with for the a your chronic these those")
#: "signs of infection" is general unless the patient says it of themselves.
GENERAL_TOPICS = frozenset(["signs", "sign", "symptoms", "symptom", "warning"])
HABITUAL_PHRASES = (
    ("i", "get"),
    ("i", "tend"),
    ("suffer", "from"),
    ("suffered", "from"),
    ("prone", "to"),
)
NEGATIONS = _set("no without denies deny denied denying nor neither zero none")
#: "not"/"never" reach only to the end of their clause; "no" also over a list ("no fever, chills or ...").
NEGATING_ADVERBS = frozenset(["not", "never", "nothing"])
NEGATION_WINDOW = 6
#: Where a negation stops reaching forward.
NEGATION_BREAKS = _set(
    "but however though although yet except just only now still and because so i my it its is am are was "
    "were feel feels felt getting started since"
)
#: "I've never had a headache like this" reports a new symptom.
COMPARATIVES = (
    ("like", "this"),
    ("like", "that"),
    ("this", "bad"),
    ("so", "bad"),
    ("this", "severe"),
    ("this", "much"),
    ("my", "life"),
)
#: Words the `*` wildcard of a pattern never crosses.
WILDCARD_STOP = _set(
    "no not never without nor neither but however although though except if whether fine ok okay normal better"
)
#: Contrast words that start a new part of a sentence ("I had a fever last month but ...").
CONTRASTS = frozenset(["but", "however", "though", "although", "yet", "whereas", "except"])
#: Clause breaks for hypotheticals; "and", "so", "then" only before a new subject.
CLAUSE_BREAKS = _set("but because though although however yet whereas cos coz -")
SOFT_BREAKS = frozenset(["and", "so", "then"])
NEW_SUBJECT = _set("i my now it its this everything then today since")

PAST_UNITS = _set("year years month months week weeks decade decades ages while long")
RECENT_UNITS = _set("second seconds secs sec minute minutes mins min hour hours hrs hr day days moment moments")
PAST_AFTER_LAST = _set(
    "year month week time summer winter spring autumn fall christmas session appointment treatment visit"
    " blood injection injections vaccination vaccine jab shot dentist procedure surgery operation checkup"
)
PAST_PHRASES = (
    ("as", "a", "kid"),
    ("as", "a", "child"),
    ("as", "a", "teenager"),
    ("as", "a", "teen"),
    ("as", "a", "baby"),
    ("when", "i", "was"),
    ("used", "to"),
    ("in", "the", "past"),
    ("history", "of"),
    ("years", "back"),
    ("back", "in"),
    ("for", "years"),
    ("for", "months"),
    ("other", "time"),
    ("back", "when"),
    ("before", "i", "started"),
    ("before", "starting"),
)
NOT_PAST_AFTER_BEFORE = _set(
    "the my this that today tonight i we it your our you he she they lunch breakfast dinner bed going getting leaving"
)
PAST_WORDS = frozenset(["childhood", "previously", "previous", "formerly", "once"])
NOT_PAST_AFTER_ONCE = _set("i we it the my you he she they home back again more inside there outside done or twice")
RECENT_WORDS = _set("today tonight now currently yesterday anymore since still keeps")
RECENT_PHRASES = (
    ("this", "morning"),
    ("this", "afternoon"),
    ("this", "evening"),
    ("last", "night"),
    ("at", "the", "moment"),
    ("i", "just"),
    ("just", "started"),
    ("just", "happened"),
    ("getting", "worse"),
    ("getting", "bigger"),
    ("right", "after"),
)
#: "now" after one of these says the patient is well again ("I'm fine now").
RECOVERED = _set("fine ok okay better good gone normal great well over recovered until by")
#: Said after a symptom, these put it behind the patient ("..., but I'm fine now").
RECOVERED_PHRASES = (
    ("fine", "now"),
    ("ok", "now"),
    ("okay", "now"),
    ("better", "now"),
    ("gone", "now"),
    ("good", "now"),
    ("normal", "now"),
    ("i", "am", "fine"),
    ("i", "am", "ok"),
    ("i", "am", "okay"),
    ("feel", "fine"),
    ("all", "good"),
    ("went", "away"),
    ("goes", "away"),
    ("passed", "quickly"),
)
#: ... unless it was minutes ago.
VERY_RECENT = (
    ("minutes", "ago"),
    ("mins", "ago"),
    ("minute", "ago"),
    ("hour", "ago"),
    ("hours", "ago"),
    ("just", "now"),
    ("right", "now"),
)
NOT_RECENT_AFTER_SINCE = _set("i childhood birth forever years a school university college")
THIRD_PERSON_NOUNS = _set(
    "dad father mum mom mother mam mummy mommy parent parents brother sister son daughter kid kids child "
    "children baby husband wife partner boyfriend girlfriend friend friends mate colleague coworker boss "
    "neighbour neighbor aunt uncle cousin grandma grandmother grandad granddad grandpa grandfather nan "
    "nana gran granny niece nephew family relative relatives flatmate roommate guy girl man woman lady "
    "bloke"
)
THIRD_PERSON_PRONOUNS = frozenset(["he", "she", "they", "his", "her", "their", "him"])
POSSESSIVES = frozenset(["my", "our", "his", "her", "their", "a", "the", "your"])
PAST_MARKERS = _set("had has was were did used got went felt lost gave once")
FUTURE_MARKERS = frozenset(["will", "would", "could", "might", "may", "should"])
EMERGENCY_STATES = (
    ("not", "responding"),
    ("unresponsive",),
    ("unconscious",),
    ("not", "breathing"),
    ("not", "waking"),
    ("not", "wake"),
)
ELIGIBILITY_WORDS = _set(
    "safe safely allowed suitable eligible contraindicated contraindication contraindications affect affects"
)
ELIGIBILITY_PHRASES = (
    ("still", "come"),
    ("still", "have"),
    ("still", "do"),
    ("still", "get"),
    ("still", "book"),
    ("a", "problem"),
    ("ok", "to"),
    ("okay", "to"),
    ("fine", "to"),
)
BACKGROUND_WORDS = frozenset(["had", "history", "diagnosed", "suffered", "suffer"])
NERVES_PHRASES = (
    ("nervous", "wreck"),
    ("hate", "needles"),
    ("thinking", "about"),
    ("think", "about"),
    ("thought", "of"),
    ("sight", "of"),
    ("scared", "of"),
    ("afraid", "of"),
    ("terrified", "of"),
    ("frightened", "of"),
    ("phobia",),
    ("nervous", "i"),
    ("anxious", "i"),
)
FEEL_LIKE = (("feel", "like"), ("feels", "like"), ("feeling", "like"), ("felt", "like"))

#: Pattern words too ordinary to be the target of a typo correction ("walkng" is not "talking").
TYPO_GENERIC = _set(
    "able about across ages almost alive anymore around attack attacks back badly been better bigger "
    "black body came care catch clearly closing coming dark down drop dropped dropping ending enough "
    "ever everything everywhere exist extremely eyes fast feel feeling feels fell felt find floor "
    "forever funny gave getting going gone goodbye grip ground growing hand hands hang hanging hard have "
    "head headed heart heavy here high hold hour hours huge incredibly just keep keeping keeps kept left "
    "letter letters life lift light like line lines live living loads lose losing lost lots mini mins "
    "minutes miss more move much nearly never nobody normally note notes nothing nowhere once pass "
    "passed passing pills plan planning point power pressed pressing properly raise raised rather really "
    "reason right room running saved seeing self side sight sleep smile speak speaking spins spun span "
    "stop stopping straight strange struggle super take taking talk talking them things thinking this "
    "thought threw throwing tired turning very walk want warm well went were while will wish with "
    "without words world worse would wrong worth"
)
#: Ordinary words never "corrected" to a pattern word; the YAML file's `typo_allow:` adds many more.
TYPO_ALLOW = _set(
    "paint saint feint chess cheat worse plain sleeping affected discharged heartache breeding spelling "
    "smelling selling sweating cooking checking breaking walking standing starting"
)
#: English words that are not also Portuguese, Spanish, French or German ones: a sentence with
#: two of them is English, and the other languages' patterns ("malaise", "vertigo") skip it.
ENGLISH_MARKERS = _set(
    "the is my i and it to of what how can does after have has with this that you are be if at for your "
    "not just but from get had been should could would there they when why"
)


#: Words of Portuguese (pt-BR chat included) that are not Spanish, French, German or Arabizi ones:
#: a sentence with one of them skips those languages' patterns, whose negation and hypothetical
#: cues do not know Portuguese.
PORTUGUESE_MARKERS = _set(
    "nao vc voce voces tou estou tava estava tenho tinha meu meus minha minhas com pra pro isso esse essa "
    "esses essas muito mto mt agora agr hj hoje ontem depois qdo quando doendo doi peito nem sem tambem tb"
)


def normalise(text: str) -> str:
    """Lower case, contractions spelled out, so patterns need no apostrophes."""
    text = text.lower()
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def fold(text: str) -> str:
    """`normalise`, then accents and Arabic diacritics removed and Arabic letters unified.

    "coração" -> "coracao", "أريد" -> "اريد" (hamza forms unified, ta marbuta -> ha, alef
    maqsura -> ya, tatweel dropped).
    """
    text = unicodedata.normalize("NFKD", normalise(text))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", text.translate(_ARABIC_FOLD))


@dataclass(frozen=True)
class RedFlag:
    category: str
    matched: str
    sentence: str

    @property
    def crisis(self) -> bool:
        return self.category == CRISIS


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (optimal string alignment), or `limit + 1` once it is over `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: List[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, before[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


class Speller:
    """Corrects a misspelt word to a pattern word: "breth" -> "breath", "headahce" -> "headache".

    The targets are the pattern words, less the ordinary ones (`TYPO_GENERIC`). A word of 5 to 7
    letters may be one edit (Damerau-Levenshtein: insertion, deletion, substitution or swap of two
    neighbours) away, one of 8 or more two edits; a word of 4 letters only a swap ("pian" ->
    "pain"). A pattern word itself, a word in the allow list (`TYPO_ALLOW` and the YAML file's
    `typo_allow:`) and anything not plain ASCII letters is left alone. Ties go to the closest
    word with the same first letter. Corrections are computed lazily and cached per word.
    """

    def __init__(self, vocabulary: Iterable[str], allow: Iterable[str] = (), cache_size: int = 50_000):
        self.vocabulary = frozenset(w for w in vocabulary if w.isascii() and w.isalpha())
        self.allow = frozenset(TYPO_ALLOW).union(w.lower() for w in allow)
        self._by_length: Dict[int, List[str]] = {}
        for word in sorted(self.vocabulary - TYPO_GENERIC):
            if len(word) >= 4:
                self._by_length.setdefault(len(word), []).append(word)
        self.correct = functools.lru_cache(maxsize=cache_size)(self._correct)

    @staticmethod
    def limit(word: str) -> int:
        return 2 if len(word) >= 8 else 1 if len(word) >= 4 else 0

    def _correct(self, word: str) -> str:
        limit = self.limit(word)
        if not limit or word in self.vocabulary or word in self.allow or not (word.isascii() and word.isalpha()):
            return word
        best: Optional[Tuple[int, bool, int, str]] = None
        lengths = [len(word)] if len(word) == 4 else range(len(word) - limit, len(word) + limit + 1)
        for length in lengths:
            for candidate in self._by_length.get(length, ()):
                if len(word) == 4 and sorted(candidate) != sorted(word):
                    continue  # four letters: only a swap of two neighbours
                if limit == 2 and len(candidate) < 6:
                    continue
                distance = _osa_distance(word, candidate, limit)
                if distance > limit:
                    continue
                key = (distance, candidate[0] != word[0], abs(len(candidate) - len(word)), candidate)
                if best is None or key < best:
                    best = key
        return best[3] if best else word


class RedFlagDetector:
    """Finds red flags in a message. Build once; `detect` is cheap and thread-safe."""

    def __init__(
        self,
        patterns: Mapping[str, Sequence[str]],
        nlp: Optional[spacy.language.Language] = None,
        *,
        ignore: Sequence[str] = (),
        typo_allow: Iterable[str] = (),
        languages: Optional[Mapping[str, Mapping[str, Sequence[str]]]] = None,
    ):
        self.nlp = nlp or spacy.blank("en")
        self.matcher = Matcher(self.nlp.vocab)
        self.pattern_count = 0
        vocabulary: Set[str] = set()
        for category, lines in patterns.items():
            token_patterns = [p for line in lines for p in self._expand(line)]
            self.pattern_count += len(token_patterns)
            self.matcher.add(category, token_patterns)
            vocabulary.update(t["LOWER"] for p in token_patterns for t in p if isinstance(t.get("LOWER"), str))
        self.ignore_matcher = Matcher(self.nlp.vocab)
        ignore_patterns = [p for line in ignore for p in self._expand(line)]
        if ignore_patterns:
            self.ignore_matcher.add("ignore", ignore_patterns)
        self.speller = Speller(vocabulary, typo_allow)
        self.languages: List[Tuple[str, str, re.Pattern, Dict[str, List[re.Pattern]]]] = []
        #: (past/general cues, now cues) for Arabic (True) and the Latin-script languages (False)
        self.context_cues: Dict[bool, Tuple[List[re.Pattern], List[re.Pattern]]] = {True: ([], []), False: ([], [])}
        for code, spec in (languages or {}).items():
            cues = {key: [re.compile(self._regex(code, r)) for r in spec.get(key) or []] for key in LANGUAGE_CUES}
            self.context_cues[code == "ar"][0].extend(cues[NOT_IN_SENTENCE])
            self.context_cues[code == "ar"][1].extend(cues[NOW])
            for category, regexes in spec.items():
                if category in LANGUAGE_CUES or not regexes:
                    continue
                combined = "|".join(f"(?:{self._regex(code, r)})" for r in regexes)
                self.languages.append((code, category, re.compile(combined), cues))
                self.pattern_count += len(regexes)

    @staticmethod
    def _regex(code: str, regex: str) -> str:
        return regex.replace("~", ARABIC_WORD_START) if code == "ar" else regex

    def _tokens(self, words: str) -> List[str]:
        return [t.lower_ for t in self.nlp.make_doc(normalise(words))]

    def _expand(self, line: str) -> List[List[dict]]:
        slots = []
        wildcard = {"LOWER": {"NOT_IN": sorted(WILDCARD_STOP)}, "OP": "?"}
        for slot in line.split():
            if slot == "*":
                slots.append([[wildcard] * WILDCARD_WIDTH])
            else:
                slots.append([[{"LOWER": t} for t in self._tokens(alt.replace("_", " "))] for alt in slot.split("|")])
        return [[token for part in combo for token in part] for combo in itertools.product(*slots)]

    def detect(self, text: str) -> List[RedFlag]:
        """Every red flag the patient reports in `text` (crisis first), without duplicates."""
        if not text or not text.strip():
            return []
        found: Dict[str, RedFlag] = {}
        for sentence in _SENTENCE_END.split(normalise(text)):
            sentence = sentence.strip()
            if sentence:
                self._detect_english(sentence, found)
        if self.languages:
            self._detect_languages(text, found)
        return sorted(found.values(), key=lambda flag: (not flag.crisis, flag.category))

    def _detect_english(self, sentence: str, found: Dict[str, RedFlag]) -> None:
        original = self.nlp.make_doc(sentence)
        words = [self.speller.correct(t.lower_) for t in original]
        doc = original
        if words != [t.lower_ for t in original]:
            doc = Doc(self.nlp.vocab, words=words, spaces=[bool(t.whitespace_) for t in original])
        matches = self.matcher(doc)
        if not matches:
            return
        ignored = {i for _, s, e in self.ignore_matcher(doc) for i in range(s, e)}
        for match_id, start, end in matches:
            category = self.nlp.vocab.strings[match_id]
            if category in found or start in ignored:
                continue
            if (category == CRISIS and not _denied(doc, start)) or (
                category != CRISIS and self._reported(doc, start, end)
            ):
                found[category] = RedFlag(category, original[start:end].text, original.text)

    def _detect_languages(self, text: str, found: Dict[str, RedFlag]) -> None:
        folded = fold(text)
        self._detect_folded(folded, found)
        unstretched = _STRETCHED_ARABIC.sub(r"\1", folded)
        if unstretched != folded:
            # read once as typed (a pattern may take the stretch as emphasis: "ينززززف") and once
            # with each stretched letter counted once ("مقطوووع" is "مقطوع")
            self._detect_folded(unstretched, found)

    def _detect_folded(self, folded: str, found: Dict[str, RedFlag]) -> None:
        arabic = bool(_ARABIC.search(folded))
        for sentence in _SENTENCE_END.split(folded):
            sentence = sentence.strip()
            if not sentence:
                continue
            english = len(ENGLISH_MARKERS.intersection(re.findall(r"[a-z]+", sentence)))
            # a Portuguese sentence is read by the Portuguese patterns only ("minha mae teve infarto ha 5
            # anos" is not Spanish "infarto"); words with digits are Arabizi ("ma2tou3"), not "tou"
            portuguese = bool(PORTUGUESE_MARKERS.intersection(re.findall(r"[a-z0-9]+", sentence)))
            # Arabizi ("wa7ad", "fe3lan") is read by the Arabizi patterns, not French or Spanish ones
            arabizi = bool(_ARABIZI_INNER.search(sentence)) or len(_ARABIZI_START.findall(sentence)) >= 2
            # past/general context, per script: "meu avô teve um derrame" is past for Spanish too
            context = {script: self._foreign_context(sentence, script) for script in (True, False)}
            #: (category, start, end) of matches a language's own cues negated: no other language's
            #: overlapping match counts either ("e se der avc?" is not French "avc")
            negated: List[Tuple[str, int, int]] = []
            for code, category, regex, cues in self.languages:
                if category in found or (code == "ar" and not arabic) or (code != "ar" and english >= 2):
                    continue
                if (portuguese and code not in ("pt", "ar")) or (arabizi and code in ("es", "fr", "de")):
                    continue
                if category != CRISIS and context[code == "ar"]:
                    continue
                for match in regex.finditer(sentence):
                    if code != "ar" and english and match.group(0).strip() in self.speller.vocabulary:
                        continue  # an English word ("is vertigo a side effect?")
                    if any(c == category and s < match.end() and match.start() < e for c, s, e in negated):
                        continue
                    before = sentence[: match.start()]
                    if code == "ar" and match.group(0).startswith(_WA) and regex.match(sentence[match.start() + 1 :]):
                        before = ""  # "و" joins a new clause: "ما حسيت بشي وصحيت على الارض"
                    if category == CRISIS or not self._foreign_negated(before, cues[NOT_BEFORE], cues[CLAUSE_BREAK]):
                        found[category] = RedFlag(category, match.group(0).strip(), sentence)
                        break
                    negated.append((category, match.start(), match.end()))

    def _foreign_context(self, sentence: str, arabic: bool) -> bool:
        """A past, general or someone else's sentence ("desmaiei uma vez anos atrás") in Arabic or
        in the Latin-script languages, with no "happening now" cue ("agora", "desde", "الحين")
        of those languages to overrule it."""
        not_in_sentence, now = self.context_cues[arabic]
        return any(c.search(sentence) for c in not_in_sentence) and not any(c.search(sentence) for c in now)

    @staticmethod
    def _foreign_negated(before: str, not_before: Sequence[re.Pattern], breaks: Sequence[re.Pattern] = ()) -> bool:
        clause = _CLAUSE_PUNCT.split(before)[-1]
        for cue in breaks:
            clause = cue.split(clause)[-1]
        window = " ".join(clause.split()[-LANGUAGE_WINDOW:])
        return bool(window) and any(cue.search(window) for cue in not_before)

    # --- is it reported? ---------------------------------------------------------------------

    def _reported(self, doc: Doc, start: int, end: Optional[int] = None) -> bool:
        """True when the words around the match state it happens to the patient now.

        In order, each "no" ends it:
        1. a negation right before it, reaching over a list ("no fever, chills or swelling",
           "not short of breath"); `*` in a pattern never crosses one either;
        2. in its part of the sentence (a "but", ", now", ", since" start a new part): a past-time
           cue ("years ago", "as a kid", "once", "in 2019", "last time") and no recent one ("an
           hour ago", "since yesterday", "this morning", "last night", "just now", "today") in
           its own "and"-clause ("..., and I am on aspirin now" is about something else), nor
           "again";
        3. someone else's past or future ("my dad had a stroke", "she might faint"), unless it is
           happening now ("my wife collapsed ... isn't responding");
        4. a past condition asked about for eligibility ("I've had a stroke, is DN safe?");
        5. nerves ("just thinking about needles", "scared of needles"), unless recent;
        6. recovery said after it ("..., but I'm fine now"), unless it was minutes or hours ago;
        7. a general statement with no "I"/"my" anywhere ("infection after needling is rare");
        8. in its clause: a hypothetical or general cue ("if", "could", "would", "risk", "anyone",
           "side effect", "worried about", in a question "help my"/"make my");
        9. a question ("is fainting a side effect?") counts only when the patient owns the
           symptom ("is it normal that my chest hurts this much?", "is this infected?") or says
           how much ("is it normal to be this dizzy?").
        """
        words = [t.lower_ for t in doc]
        end = start + 1 if end is None else end
        if _negated(words, start, end):
            return False
        first, last = _segment(words, start)
        segment = words[first:last]
        # A recent cue counts in the match's own "and"-clause ("I fainted years ago and I'm on
        # aspirin now" is past); "again" anywhere in the part says it is back now.
        own_first, own_last = _and_clause(words, start, first, last)
        recent = _recent(words[own_first:own_last]) or "again" in segment
        if not recent and _past(segment):
            return False
        if _third_person(words, first, start, end) and not (recent or _has_phrase(segment, EMERGENCY_STATES)):
            return False
        if not recent and _background(segment, words[first:start]):
            return False
        if not recent and _has_phrase(segment, NERVES_PHRASES):
            return False
        if _has_phrase(words[end:], RECOVERED_PHRASES) and not _has_phrase(segment, VERY_RECENT):
            return False  # "I felt lightheaded during yesterday's session but I'm fine now"
        if not recent and _generic(words, start, end):
            return False
        clause = words[_clause_start(words, start) : start]
        if _hypothetical(clause, recent, _opens_question(words, start)):
            return False
        return _question_ok(words, start, end)


# --- helpers for `_reported` (words are lower-cased tokens) -----------------------------------------


def _has_phrase(words: Sequence[str], phrases: Iterable[Tuple[str, ...]]) -> bool:
    for phrase in phrases:
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(words[i : i + n]) == phrase:
                return True
    return False


def _negated(words: Sequence[str], start: int, end: int) -> bool:
    crossed_comma = False
    for k in range(start - 1, max(-1, start - 1 - NEGATION_WINDOW), -1):
        word = words[k]
        if word in NEGATIONS or word in NEGATING_ADVERBS:
            if word in NEGATING_ADVERBS and crossed_comma:
                return False
            # "I've never had a headache like this" reports a new symptom
            return not (word in ("never", "not") and _has_phrase(words[end:], COMPARATIVES))
        if word in NEGATION_BREAKS:
            return False
        if _CLAUSE_PUNCT.fullmatch(word) or word in ("-", "("):
            crossed_comma = True
    return False


def _segment(words: Sequence[str], start: int) -> Tuple[int, int]:
    """The part of the sentence the match is in: contrasts ("but", ", now", "and now") cut it."""

    def cut(i: int) -> bool:
        word = words[i]
        if word in CONTRASTS:
            return True
        if word == "since" and i > 0 and (words[i - 1] == "and" or _CLAUSE_PUNCT.fullmatch(words[i - 1])):
            return True
        return (
            word == "now"
            and i > 0
            and (words[i - 1] in ("and", ",", "but") or _CLAUSE_PUNCT.fullmatch(words[i - 1]) is not None)
        )

    first = 0
    for i in range(start - 1, -1, -1):
        if cut(i):
            first = i
            break
    last = len(words)
    for i in range(start + 1, len(words)):
        if cut(i):
            last = i
            break
    return first, last


#: After "and", these start a new clause about the patient: "... and I am on aspirin now".
AND_CLAUSE_STARTS = _set("i i'm im have has am been my")


def _and_clause(words: Sequence[str], start: int, first: int, last: int) -> Tuple[int, int]:
    """The stretch of `words[first:last]` around `start` between two "and I ..."-style joins."""

    def join(i: int) -> bool:
        return words[i] == "and" and i + 1 < len(words) and words[i + 1] in AND_CLAUSE_STARTS

    own_first = next((i for i in range(start - 1, first - 1, -1) if join(i)), first)
    own_last = next((i for i in range(start + 1, last) if join(i)), last)
    return own_first, own_last


def _neighbours(segment: Sequence[str]) -> Iterable[Tuple[int, str, str, str]]:
    """(index, previous word, word, following word) for each word; "" past either end."""
    for i, word in enumerate(segment):
        yield i, segment[i - 1] if i else "", word, segment[i + 1] if i + 1 < len(segment) else ""


def _recent(segment: Sequence[str]) -> bool:
    for i, previous, word, following in _neighbours(segment):
        if word == "ago" and previous in RECENT_UNITS:
            return True
        if word == "now" and previous in RECOVERED:
            continue
        if word == "since" and (following in NOT_RECENT_AFTER_SINCE or _YEAR.match(following)):
            continue
        if word == "still" and (previous in MODALS or (i > 1 and segment[i - 2] in MODALS)):
            continue
        if word in RECENT_WORDS:
            return True
    return _has_phrase(segment, RECENT_PHRASES)


def _past(segment: Sequence[str]) -> bool:
    for _, previous, word, following in _neighbours(segment):
        if word == "ago" and previous in PAST_UNITS:
            return True
        if word == "last" and following in PAST_AFTER_LAST:
            return True
        if _YEAR.match(word):
            return True
        if word == "once" and (following in NOT_PAST_AFTER_ONCE or previous == "at"):
            continue
        if word in PAST_WORDS:
            return True
        if (
            word == "before"
            and following not in NOT_PAST_AFTER_BEFORE
            and previous not in ("never", "this", "that", "ever")
        ):
            return True  # "I've fainted before", "... before, at the dentist" (not "before the session")
    return _has_phrase(segment, PAST_PHRASES)


def _third_person(words: Sequence[str], first: int, start: int, end: int) -> bool:
    """Someone else's symptom, in the past or the future ("my dad had a stroke", "she will faint")."""
    subject = None
    for k in range(start - 1, first - 1, -1):
        word = words[k]
        if word == "mine" and k > 0 and words[k - 1] == "of":
            continue  # "a friend of mine"
        if word == "me" and k > 0 and words[k - 1] in ("before", "after", "with", "like", "than", "behind", "next"):
            continue  # "the guy before me fainted"
        if word in FIRST_PERSON:
            return False
        if word in THIRD_PERSON_PRONOUNS or (word in THIRD_PERSON_NOUNS and k > 0 and words[k - 1] in POSSESSIVES):
            subject = k
            break
    if subject is None:
        return False
    between = words[subject + 1 : end]
    if any(w in FUTURE_MARKERS for w in words[subject + 1 : start]):
        return True
    return any(w in PAST_MARKERS or (len(w) > 3 and w.endswith("ed")) for w in between)


def _background(segment: Sequence[str], before: Sequence[str]) -> bool:
    """A past condition asked about for eligibility: "I've had a stroke, is DN safe for me?"."""
    eligibility = bool(ELIGIBILITY_WORDS.intersection(segment)) or _has_phrase(segment, ELIGIBILITY_PHRASES)
    return eligibility and bool(BACKGROUND_WORDS.intersection(before))


def _clause_start(words: Sequence[str], start: int) -> int:
    for k in range(start - 1, -1, -1):
        word = words[k]
        if word in CLAUSE_BREAKS or _CLAUSE_PUNCT.fullmatch(word):
            return k + 1
        if word in SOFT_BREAKS and k + 1 < start and words[k + 1] in NEW_SUBJECT:
            return k + 1
    return 0


def _generic(words: Sequence[str], start: int, end: int) -> bool:
    """A general statement, with no "I" or "my" anywhere: "Infection after needling is rare",
    "A collapsed lung can happen if ...", "If bleeding will not stop, or a bruise keeps growing"."""
    own = [
        w
        for i, w in enumerate(words)
        if w in FIRST_PERSON and not (i + 1 < len(words) and words[i + 1] in THIRD_PERSON_NOUNS)
    ]
    if own:  # "my sister says fainting is common" is still general
        return False
    after = []
    for k in range(end, len(words)):
        if words[k] in CLAUSE_BREAKS or _CLAUSE_PUNCT.fullmatch(words[k]):
            break
        after.append(words[k])
    for i, word in enumerate(after):
        if word in GENERIC_AFTER or word in HYPOTHETICAL or word in SOFT_GENERAL:
            if word == "can" and after[i + 1 : i + 2] == ["not"]:
                continue
            return True
    if CONDITIONALS.intersection(words[:start]):
        return True
    return bool(GENERIC_BEFORE.intersection(words[_clause_start(words, start) : start]))


def _hypothetical(clause: Sequence[str], recent: bool, question: bool = False) -> bool:
    feel_like = _has_phrase(clause, FEEL_LIKE)
    for i, word in enumerate(clause):
        following = clause[i + 1 : i + 3]
        if word in HYPOTHETICAL:
            return True
        if word == "would" or word in SOURCES:
            return True
        if word in ("could", "might", "may") and not feel_like and not PRESENT_SUSPICION.intersection(following):
            return True
        if word in ("cause", "causes") and i > 0 and clause[i - 1] not in ("'", "just", "and"):
            return True
        if question and word in TREATS and following[:1] and following[0] in TREAT_OBJECTS:
            return True
        if question and word in ("make", "makes", "give", "gives", "cause"):
            return True  # "can needling make my arm weak?"
        if word in GENERAL_TOPICS and not FIRST_PERSON.intersection(clause):
            return True
        if word in SOFT_GENERAL and not recent:
            return True
    if len(clause) >= 2 and clause[-2] in WORRIES and clause[-1] in ("about", "of"):
        return True  # "I'm worried about fainting" (but not "worried about my chest pain")
    phrases = [p for p in HYPOTHETICAL_PHRASES if not (feel_like and p == ("i", "will"))]
    if _has_phrase(clause, phrases):
        return True
    return not recent and _has_phrase(clause, HABITUAL_PHRASES)


def _sentence_start(words: Sequence[str], start: int) -> int:
    i = 0
    while i < start and (words[i] in FILLERS or not words[i].isalnum()):
        i += 1
    return i


def _opens_question(words: Sequence[str], start: int) -> bool:
    i = _sentence_start(words, start)
    return i < start and words[i] in QUESTION_STARTS


def _denied(doc: Doc, start: int) -> bool:
    """A crisis word denied right before it: "I'm not suicidal", "no self harm"."""
    return any(t.lower_ in NEGATIONS or t.lower_ in NEGATING_ADVERBS for t in doc[max(0, start - 2) : start])


def _specific(words: Sequence[str]) -> bool:
    """How much or how long, said of one's own symptom: "this dizzy", "so much", "still", "39"."""
    for i, word in enumerate(words):
        if word in ("this", "so") and i + 1 < len(words) and words[i + 1] in INTENSITIES:
            return True
        if word == "still" or any(char.isdigit() for char in word):
            return True
    return False


def _question_ok(words: Sequence[str], start: int, end: int) -> bool:
    """A question counts when the patient owns the symptom: "why is my arm numb?", "is this infected?"."""
    i = _sentence_start(words, start)
    before = list(words[i:start])
    if not before or before[0] not in QUESTION_STARTS:
        return True
    opener = before[0]
    present_my = opener in ("do", "does", "did") and before[1:2] == ["my"]  # "does my arm being numb mean ...?"
    if len(before) >= 2 and opener in MODALS and before[1] in FIRST_PERSON and not present_my:
        # "could i be having a stroke?", "do i have an infection?" ask about now; "can i get an
        # infection?", "do i have to worry about bleeding?" about the future or in general
        present = opener in ("could", "might", "may", "do", "does") and before[2:3] and before[2] in PRESENT_SUSPICION
        if present and before[3:4] != ["to"]:
            return True
        if not FIRST_PERSON.intersection(before[2:]):
            return False
    if "should" in before:
        # "when should i worry about chest pain?" asks for advice; "what should i do, my chest
        # hurts" reports: only a first-person word right before the symptom counts here.
        return bool(FIRST_PERSON.intersection(before[-2:]))
    if _specific(words[i:]):
        return True  # "is it normal to be this dizzy?", "... a fever of 39 two days after needling?"
    if "to" in before[-3:] and not FIRST_PERSON.intersection(before[before.index("to") :]):
        return False  # "is it normal to feel faint after needling?"
    if FIRST_PERSON.intersection(before[-5:]) or FIRST_PERSON.intersection(words[start:end]):
        return True
    return "this" in before[-4:] or before[-1] == "it" or before[-2:] == ["it", "is"]


def load_config(path: Path = RED_FLAGS_FILE) -> Dict[str, Any]:
    """The whole red-flag file: categories, ignore, typo_allow, languages."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {
        "categories": {category: list(lines) for category, lines in (data.get("categories") or {}).items()},
        "ignore": list(data.get("ignore") or []),
        "typo_allow": _words(data.get("typo_allow")),
        "languages": {code: dict(spec) for code, spec in (data.get("languages") or {}).items()},
    }


def _words(value: Any) -> List[str]:
    """A list of words, given as a YAML list or a space-separated string."""
    if not value:
        return []
    return value.split() if isinstance(value, str) else [str(w) for w in value]


def load_patterns(path: Path = RED_FLAGS_FILE) -> Dict[str, List[str]]:
    """The English patterns, per category."""
    return load_config(path)["categories"]


@functools.cache
def default_detector(path: Path = RED_FLAGS_FILE) -> RedFlagDetector:
    config = load_config(path)
    return RedFlagDetector(
        config["categories"],
        ignore=config["ignore"],
        typo_allow=config["typo_allow"],
        languages=config["languages"],
    )


def summary(flags: Sequence[RedFlag]) -> Tuple[bool, Optional[str]]:
    """(is it a crisis, the first category) for a reply."""
    return (any(f.crisis for f in flags), flags[0].category if flags else None)
