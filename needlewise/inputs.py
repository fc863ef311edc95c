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
from typing import Callable, Deque, Dict, FrozenSet, List, Optional, Set, Tuple

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
_MONTHS_PT = (
    r"(?:janeiro|fevereiro|mar[cç]o|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro|"
    r"jan|fev|mar|abr|mai|jun|jul|ago|set|out|nov|dez)"
)
_MONTHS_AR = (
    r"(?:يناير|فبراير|مارس|[أإا]بريل|مايو|يوني[وه]|يولي[وه]|[أا]غسطس|سبتمبر|[أا]كتوبر|نوفمبر|ديسمبر|"
    r"(?:كانون|تشرين) ال(?:ثاني|[أا]ول)|شباط|[آا]ذار|نيسان|[أا]يار|حزيران|تموز|[آا]ب|[أا]يلول)"
)
_REDACTIONS = [
    ("[email]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("[link]", re.compile(r"https?://\S+", re.IGNORECASE)),
    (
        lambda date: "[date]" + re.sub(r"^.*?([\s,]*)$", r"\1", date.group(0), flags=re.DOTALL),  # keeps ", " after
        re.compile(
            rf"\b(?:born|birthday|date of birth|d\.?o\.?b\.?)\b[\s:,]*(?:(?:is|on|was|in)\b[\s:,]*)*"
            # a date follows: not "born with a murmur", not "my son was born 3 years ago"
            rf"(?=(?:the\s+)?(?:\d|{_MONTHS}\b))(?!\d+\s*(?:years?|months?|weeks?|days?|hours?)\b)"
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
    # "12 de março de 1985", "3 mar 1987"
    (
        "[date]",
        re.compile(rf"\b\d{{1,2}}[º°o]?\s+(?:de\s+)?{_MONTHS_PT}\.?,?\s+(?:de\s+)?\d{{4}}\b", re.IGNORECASE),
    ),
    # "12 مارس 1985", "٣ آذار ١٩٨٧"
    ("[date]", re.compile(rf"(?<!\w)\d{{1,2}}\s+(?:من\s+)?(?:شهر\s+)?{_MONTHS_AR}\s+(?:عام\s+|سنة\s+)?\d{{4}}(?!\w)")),
    # a year of birth: "nasci em 1985", "data de nascimento: 1985", "من مواليد 1985", "ولدت عام ١٩٨٥"
    (
        r"\g<1>[date]",
        re.compile(
            r"(\b(?:nasci(?:d[oa])?|data de nascimento|dt\.?\s*(?:de\s+)?nasc(?:imento)?\.?)\b[\s:,]*"
            r"(?:(?:em|no ano de|ano de|no dia|dia|é|e|foi|de)\b[\s:,]*)*)\d{4}\b",
            re.IGNORECASE,
        ),
    ),
    (
        r"\g<1>[date]",
        re.compile(
            r"((?<!\w)(?:تاريخ (?:ميلادي|الميلاد)|مواليد|و\u064f?لدت|مولود|مولودة)(?:\s*:)?"
            r"(?:\s+(?:هو|في|عام|سنة|العام))*\s*)\d{4}(?!\w)"
        ),
    ),
    # postcodes: UK ("SW1A 1AA"), Brazilian CEP ("CEP 01310-100"), PO boxes
    ("[address]", re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b")),
    ("[address]", re.compile(r"\b(?i:cep)\b[\s:.]*\d{5}-?\d{3}\b")),
    (
        "[address]",
        re.compile(r"\b(?i:p\.?\s?o\.?\s+box|caixa postal)\s*\d{1,6}\b|(?<!\w)ص\s?\.?\s?ب\s*\.?\s*\d{1,6}(?!\w)"),
    ),
    ("[phone]", re.compile(r"(?<![\w/])\+?\(?\d[\d\s().-]{5,}\d(?![\w/])")),
    ("[number]", re.compile(r"\b[A-Za-z]{0,3}\d{6,}\b")),
]

# --- redaction: names and street addresses, guessed from the words around them -----------------------


def _words(words: str) -> FrozenSet[str]:
    return frozenset(words.split())


_WORD = r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*"
_NOT_NAMES = _words(
    """
    a an the in on at not so very really just pregnant sore worried scared nervous fine ok okay good bad allergic
    diabetic asking wondering having taking here back new old from with going trying looking feeling off
    tomorrow today tonight later now soon anytime whenever when if after before please
    dr dra mr mrs ms miss doctor doutor doutora sr sra srta prof professor professora senhor senhora dona
    um uma o os as muito não nao eu de da do em paciente alérgico alérgica alergico alergica diabético diabética
    diabetico diabetica grávida gravida bem mal nova novo
    """
)
#: Everyday English and Portuguese words: never a name after a title, never part of a street's name.
_COMMON = _words(
    """
    a an the and or but so if then than i i'm im i've ive me my mine you your he she it its it's we they them
    his her our their this that these those is am are was were be been being have has had do does did done will
    would can could should shall may might must not no yes what when where why how who which whose here there
    with without from to for of in on at by about after before since until up down out over under again just
    very really too also only please thanks thank hi hello hey ok okay all any some every each more most much
    many few one two three first last next same other another way day days week weeks time times
    said says say told tells tell asked asks ask saw see sees seen gave give gives recommended recommends
    suggested suggests thinks think thought mentioned explained wants wanted needs needed does did got gets get
    put puts put did who's prescribed referred sent sends treated treats checked examined looked looks
    needling needle needles dry session sessions pain neck shoulder shoulders back head arm legs leg hurt hurts
    sore ache aches feel feels feeling felt nurse physio physiotherapist gp clinic appointment treatment
    monday tuesday wednesday thursday friday saturday sunday january february march july september october
    november december tomorrow today tonight yesterday morning afternoon evening night
    available around free busy away always usually never sometimes still
    e ou mas se que quando onde como porque porquê por para pra com sem de da do das dos em no na nos nas
    um uma uns umas o a os as ao aos à às eu meu minha meus minhas você voce vocês ele ela eles elas nós
    isso isto esse essa este esta aquele aquela aqui ali lá la cá é está esta estou estava sou era foi tenho
    tive tem tinha ter sinto senti sente dor dores pescoço ombro ombros costas cabeça braço perna sessão sessões
    agulhamento seco agulha agulhas queria quero posso pode podia preciso sobre depois antes hoje ontem amanhã
    sim não nao obrigado obrigada olá ola oi bom boa dia dias tarde noite semana semanas disse falou pediu
    mandou recomendou acha achou passou receitou perto lado frente atrás atras fica ficou moro mora vou vai
    muito muita pouco mais menos já ja também tambem ainda só so até ate entre contra desde
    segunda terça terca quarta quinta sexta sábado sabado domingo clínica clinica consulta fisioterapeuta
    """
)
#: Lower-case words inside a name: "João da Silva", "Ludwig van Beethoven", "Ahmed bin Rashid".
_PARTICLES = _words("da de do das dos di du van von der den del della la le bin bint ibn al el")
#: Arabic words that are never a name after a title nor part of a street's name.
_AR_COMMON = _words(
    """
    في من على عن إلى الى مع قبل بعد عند منذ حتى هل أن ان إن لا لم لن ما ماذا كيف متى أين اين لماذا هو هي
    أنا انا نحن أنت انت انتي أنتي هم عندي لدي عمري قال قالت يقول تقول قالي قاللي أخبرني اخبرني أخبرتني اخبرتني
    نصحني نصحتني طلب طلبت سأل سألت سالت سأله وصف وصفت أعطاني اعطاني أعطتني اعطتني يا أو او ثم لكن الذي التي
    قرب بجانب جنب رقم أريد اريد أعاني اعاني أشعر اشعر ألم الم وجع يؤلمني يوجعني جلسة جلسات الوخز بالإبر الجافة
    اليوم أمس امس غدا غداً الآن الان كان كانت يكون سوف سأ قد كل بعض هذا هذه ذلك تلك هناك هنا
    متاح متاحة موجود موجودة متواجد متواجدة يعمل تعمل يستقبل تستقبل يقول تقول كتب كتبت نصح نصحت ممتاز ممتازة
    جيد جيدة الخاص المعالج المعالجة المختص المختصة الجديد الجديدة فقط بكرة بكره
    """
)
#: The feminine ending of an Arabic title, written as ta marbuta or as ha.
_FEMININE = r"[\u0629\u0647]"
#: Doctor (and "د."), Mr/Mrs, teacher/professor, Miss, Hajj.
_AR_TITLES = (
    rf"(?:ال)?دكتور{_FEMININE}?|د\.|السيد{_FEMININE}?|ال[أا]ستاذ{_FEMININE}?|ال[آا]نس{_FEMININE}|الحاج{_FEMININE}?"
)
_ABBREVIATED_TITLES = _words("dr dra drs mr mrs mx prof profa sr sra srta")

_NAME_INTRO = re.compile(
    r"\b(?i:(my name is|my name's|my names|name is|name:|i am called|i'm called|im called|call me|"
    r"meu nome é|meu nome e|meu nome:|nome:|eu me chamo|me chamo|chamo-me|pode me chamar de|me chame de|"
    r"this is|i am|i'm|im|it's|its|regards,?|thanks,?|cheers,?|"
    r"eu sou o|eu sou a|eu sou|sou o|sou a|sou|aqui é o|aqui é a|aqui é|aqui e o|aqui e a|"
    r"atenciosamente,?|att\.?,?|abraços,?|abs,?|obrigad[oa],?))"
    rf"((?:\s+{_WORD}){{1,5}})"
)
_EXPLICIT_NAME_INTROS = frozenset(
    [
        *("my name is", "my name's", "my names", "name is", "name:", "i am called", "i'm called", "im called"),
        *("call me", "meu nome é", "meu nome e", "meu nome:", "nome:", "eu me chamo", "me chamo", "chamo-me"),
        *("pode me chamar de", "me chame de"),
    ]
)
_AR_NAME_INTRO = re.compile(rf"(?<!\w)((?:[وف])?[اإأ]سمي(?:\s+(?:هو|هي))?:?)((?:\s+{_WORD}){{1,3}})")
_TITLE_NAME = re.compile(
    r"(?<!\w)((?:[Dd]rs?|[Dd]ra|[Mm]rs?|[Mm]x|[Pp]rofa?|[Ss]rt?a|[Ss]r)\.?|Ms\.?|Miss|"
    r"[Dd]out(?:or|ora)|[Dd]octor|[Pp]rofess(?:or|ora)|[Ss]enhora?|[Dd]ona)"
    rf"((?:\s+{_WORD}){{1,4}})"
)
_AR_TITLE_NAME = re.compile(rf"(?<!\w)({_AR_TITLES})((?:\s+{_WORD}){{1,3}})")

_STREET_TYPES_EN = (
    r"road|rd|street|st|avenue|ave|lane|ln|drive|dr|close|way|court|ct|crescent|cres|place|pl|terrace|"
    r"gardens|grove|square|sq|boulevard|blvd|hill|row|mews|walk|parade|highway|hwy|parkway|pkwy|circle|cir"
)
_UNITS_EN = r"flat|apt|apartment|unit|suite|villa"
_ADDRESS_EN = re.compile(
    rf"(?<![\w/.])((?:(?i:{_UNITS_EN})\.?\s*#?\d{{1,4}}[A-Za-z]?,?\s+)?\d{{1,5}}[A-Za-z]?(?:[-/]\d{{1,5}}[A-Za-z]?)?"
    rf"(?:,\s*|\s+))?((?:{_WORD}\s+){{1,4}}?)((?i:{_STREET_TYPES_EN}))\b\.?"
)
_STREET_TYPES_PT = (
    r"rua|r\.|avenida|av\.|av|travessa|tv\.|alameda|al\.|praça|praca|pça\.?|estrada|estr\.|rodovia|rod\.|"
    r"largo|viela|beco|ladeira"
)
#: After a number, words that make it a count ("2 vezes", "3 days"), not a house number.
_COUNTED = (
    r"(?!\s*(?i:vezes|vez|dias?|semanas?|meses|mês|mes|anos?|horas?|minutos?|min|km|metros?|m|sess\w*|x|"
    r"times?|days?|weeks?|months?|years?|hours?|minutes?|mins?|miles?)\b)"
)
_HOUSE_NUMBER_PT = rf"(?:\s*,?\s*(?:(?i:n[º°o]\.?|nº|número|numero)\s*)?\d{{1,5}}[A-Za-z]?\b{_COUNTED})"
_UNITS_PT = r"apto?\.?|apartamento|ap\.|bloco|bl\.|casa|sala|conj\.?|conjunto|lote|quadra|qd\.?"
_ADDRESS_PT = re.compile(
    rf"(?<!\w)((?i:{_STREET_TYPES_PT}))\s+({_WORD}\.?(?:\s+{_WORD}\.?){{0,5}})"
    rf"({_HOUSE_NUMBER_PT}?(?:\s*[,-]?\s*(?i:{_UNITS_PT})\s*(?:\d{{1,4}}[A-Za-z]?|[A-Z])\b)*)"
)
_STREET_TYPES_AR = r"شارع|طريق|جادة|جاده|سكة|سكه|ممر|زقاق"
_UNITS_AR = r"فيلا|فيلّا|شقة|شقه|بناية|بنايه|عمارة|عماره|مبنى|منزل|بيت|مكتب"
_ADDRESS_AR = re.compile(
    rf"(?<!\w)([بفول]?)({_STREET_TYPES_AR})\s+({_WORD}(?:\s+(?!رقم\b){_WORD}){{0,3}})"
    rf"((?:\s*[،,]?\s*(?:رقم\s*)?\d{{1,5}}(?!\w))?(?:\s*[،,-]?\s*(?:{_UNITS_AR})\s*(?:رقم\s*)?\d{{1,5}}(?!\w))*)"
)
_UNIT_ALONE = re.compile(
    rf"(?<!\w)(?:(?i:apt|apartment|villa|suite|apto?|apartamento)\.?|Flat|Unit|{_UNITS_AR})\s*"
    rf"(?:(?i:no\.?|number|n[º°o]\.?|رقم)\s*|#\s*)?\d{{1,5}}[A-Za-z]?(?!\w){_COUNTED}"
)
_ADDRESS_CUE = re.compile(
    r"(?i:\b(?:live|lives|living|lived|stay|stays|staying|reside|resides|residing|based|moved|home\s+is)"
    r"(?:\s+(?:at|on|in|to))?|\baddress(?:\s+is)?\s*[:,-]?|"
    r"\b(?:moro|mora|moramos|morando|resido|vivo|fico)\s+(?:na|no|em|à|a)|\bendere[çc]o(?:\s+[ée])?\s*:?)\s*$"
    r"|(?<!\w)(?:[أا]سكن|[أا]عيش|[أا]قيم|سكني|بيتي|منزلي|عنواني)(?:\s+(?:في|هو|:))?\s*$"
)
_ADDRESS_SAID = re.compile(
    r"((?i:\bmy (?:home |full )?address is|\baddress:|\bmeu endere[çc]o (?:é|e)|\bendere[çc]o:)"
    r"|(?<!\w)عنواني(?:\s+هو)?:?)\s+(?!\[)([^.?!\u061f\n,\u060c]+)"
)

#: Replacements for a match, boldest first, and whether the last one is kept even if it hid a red flag.
Candidates = Tuple[Tuple[str, ...], bool]


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _word_spans(text: str) -> List[Tuple[int, int]]:
    return [m.span() for m in re.finditer(_WORD, text)]


def _name_end(text: str, spans: List[Tuple[int, int]], lowercase: bool) -> int:
    """How many words of `spans` make the name: capitalised words (and particles between them);
    lower-case ones too (at most three words in all) when `lowercase`, while they are not everyday words."""
    taken = 1
    while taken < len(spans):
        word = text[slice(*spans[taken])]
        after = text[slice(*spans[taken + 1])] if taken + 1 < len(spans) else ""
        if word.lower() in _PARTICLES and _capitalised(after) and after.lower() not in _COMMON:
            taken += 2
        elif word.lower() in _NOT_NAMES or word.lower() in _COMMON:
            break
        elif _capitalised(word) or (lowercase and taken < 3):
            taken += 1
        else:
            break
    return min(taken, len(spans))


def _with_name(head: str, words: str, taken: int, spans: List[Tuple[int, int]]) -> str:
    return f"{head}{words[: spans[0][0]]}[name]{words[spans[taken - 1][1] :]}"


def _introduced_name(match: re.Match[str]) -> Candidates:
    """ "my name is Anna Kowalski" -> "my name is [name]"; "I'm Sarah" too, but only a capitalised word."""
    intro, words = match.group(1), match.group(2)
    spans = _word_spans(words)
    first = words[slice(*spans[0])]
    explicit = intro.lower() in _EXPLICIT_NAME_INTROS
    if first.lower() in _NOT_NAMES or (not explicit and not _capitalised(first)):
        return (), False
    bold = _with_name(intro, words, _name_end(words, spans, lowercase=not _capitalised(first)), spans)
    safe = _with_name(intro, words, _name_end(words, spans, lowercase=False), spans)
    return tuple(dict.fromkeys([bold, safe])), explicit


def _arabic_name_end(words: str, spans: List[Tuple[int, int]]) -> int:
    """A first name, then a father's or family name ("أحمد المنصوري", "أحمد بن راشد"), never an everyday word."""
    taken = 1
    while taken < len(spans):
        word = words[slice(*spans[taken])]
        if word in _AR_COMMON or (word.startswith(("و", "ف")) and len(word) > 3 and word[1:] in _AR_COMMON):
            break
        if word in ("بن", "بنت", "ابن", "أبو", "ابو") and taken + 1 < len(spans):
            taken += 2
        elif (word.startswith("ال") and word not in _AR_COMMON) or (taken == 1 and not word.startswith("و")):
            taken += 1
        else:
            break
    return min(taken, len(spans))


def _arabic_name(first: str) -> bool:
    return bool(re.fullmatch(r"[\u0600-\u06ff]+", first)) and first not in _AR_COMMON and not first.startswith("ال")


def _introduced_arabic_name(match: re.Match[str]) -> Candidates:
    """ "اسمي أحمد" -> "اسمي [name]": the first word surely, the next ones if they look like a name."""
    intro, words = match.group(1), match.group(2)
    spans = _word_spans(words)
    if words[slice(*spans[0])] in _AR_COMMON:
        return (), False
    bold = _with_name(intro, words, _arabic_name_end(words, spans), spans)
    return tuple(dict.fromkeys([bold, _with_name(intro, words, 1, spans)])), True


def _titled_name(match: re.Match[str]) -> Candidates:
    """ "Dr. Patel said" -> "Dr. [name] said", "Mr John Smith" -> "Mr [name]", "Dra. Ana de Souza" -> "Dra. [name]"."""
    title, words = match.group(1), match.group(2)
    spans = _word_spans(words)
    first = words[slice(*spans[0])]
    if first.lower() in _NOT_NAMES or first.lower() in _COMMON:
        return (), False
    if not _capitalised(first) and (_capitalised(title) or title.rstrip(".").lower() not in _ABBREVIATED_TITLES):
        # "ask my doctor about it", "is Dr available?": a lower-case name only after "dr", "mrs" ... in lower case
        return (), False
    return (_with_name(title, words, _name_end(words, spans, lowercase=not _capitalised(first)), spans),), False


def _titled_arabic_name(match: re.Match[str]) -> Candidates:
    """ "الدكتور أحمد قال" -> "الدكتور [name] قال"; "سألت الدكتور عن الجلسة" stays."""
    title, words = match.group(1), match.group(2)
    spans = _word_spans(words)
    if not _arabic_name(words[slice(*spans[0])]) or words[slice(*spans[0])].startswith(("و", "ف")):
        return (), False
    return (_with_name(title, words, _arabic_name_end(words, spans), spans),), False


def _cue_before(match: re.Match[str], start: int) -> bool:
    return bool(_ADDRESS_CUE.search(match.string[max(0, start - 40) : start]))


def _street_en(match: re.Match[str]) -> Candidates:
    """A house number and a capitalised street ("14 Harbour Road"), or any street after "I live at/on",
    becomes "[address]"; "3 sessions on the road" and "the Road to recovery" stay."""
    number, names, kind = match.group(1), match.group(2), match.group(3)
    spans = _word_spans(names)
    words = [names[slice(*span)] for span in spans]
    first = len(words)  # the street's own name: the last words before its type that are not everyday words
    while first > 0 and words[first - 1].lower() not in _COMMON:
        first -= 1
    if first == len(words):
        return (), False
    if number and first == 0:
        capitals = all(_capitalised(word) for word in words) and _capitalised(kind)
        return (("[address]",), False) if capitals or _cue_before(match, match.start()) else ((), False)
    start = match.start(2) + spans[first][0]
    if _cue_before(match, start):
        return (match.string[match.start() : start] + "[address]",), False
    return (), False


def _street_pt(match: re.Match[str]) -> Candidates:
    """ "Rua Augusta, 1500" and "Av. Paulista 1000 apto 52" -> "[address]"; "caí na rua molhada 2 vezes" stays."""
    names, tail = match.group(2), match.group(3)
    spans = _word_spans(names)
    words = [names[slice(*s)] for s in spans]
    own = 0
    while own < len(words) and (words[own].lower() not in _COMMON or words[own].lower() in _PARTICLES):
        own += 1
    while own > 0 and words[own - 1].lower() in _PARTICLES:
        own -= 1
    if own == 0:
        return (), False
    whole = own == len(words)
    # a house number right after the street's name ("rua augusta 1500"), or "moro na" before it; a street
    # alone ("a clínica fica na Rua Augusta?") identifies nobody
    if not ((whole and re.search(r"\d", tail)) or _cue_before(match, match.start())):
        return (), False
    end = match.end() if whole else match.start(2) + spans[own - 1][1]
    return ("[address]" + match.string[end : match.end()],), False


def _street_ar(match: re.Match[str]) -> Candidates:
    """ "شارع الشيخ زايد، فيلا 12" -> "[address]" after "أسكن في" or with a number; "مشيت في شارع طويل" stays."""
    prefix, names, tail = match.group(1), match.group(3), match.group(4)
    spans = _word_spans(names)
    words = [names[slice(*s)] for s in spans]
    own = 0
    while own < len(words) and words[own] not in _AR_COMMON and not (own and words[own].startswith("و")):
        own += 1
    if own == 0:
        return (), False
    whole = own == len(words)
    if not ((whole and re.search(r"\d", tail)) or _cue_before(match, match.start())):
        return (), False
    end = match.end() if whole else match.start(3) + spans[own - 1][1]
    return (prefix + "[address]" + match.string[end : match.end()],), False


def _unit(match: re.Match[str]) -> Candidates:
    return ("[address]",), False


def _said_address(match: re.Match[str]) -> Candidates:
    """What follows "my address is" (to the next comma or full stop) when no street rule took it, if it
    looks like one: a number or a capitalised word ("Rose Cottage"), not "my address is changing"."""
    said = match.group(2)
    if "[" in said or not (re.search(r"\d", said) or any(_capitalised(word) for word in said.split())):
        return (), False
    return (match.group(1) + match.string[match.end(1) : match.start(2)] + "[address]",), False


#: In this order: addresses (their street names may hold a title: "Rua Dr. Arnaldo"), then names.
_GUESSES: List[Tuple[re.Pattern[str], Callable[[re.Match[str]], Candidates]]] = [
    (_ADDRESS_PT, _street_pt),
    (_ADDRESS_AR, _street_ar),
    (_ADDRESS_EN, _street_en),
    (_UNIT_ALONE, _unit),
    (_ADDRESS_SAID, _said_address),
    (_TITLE_NAME, _titled_name),
    (_AR_TITLE_NAME, _titled_arabic_name),
    (_NAME_INTRO, _introduced_name),
    (_AR_NAME_INTRO, _introduced_arabic_name),
]


def _guess(text: str, keep: Optional[Callable[[str], bool]] = None) -> str:
    """Every name and address rule applied; with `keep`, each replacement only if `keep` accepts the result."""
    for pattern, candidates_for in _GUESSES:
        done, last = "", 0
        for match in pattern.finditer(text):
            candidates, sure = candidates_for(match)
            head, rest = done + text[last : match.start()], text[match.end() :]
            chosen = match.group(0)
            for index, candidate in enumerate(candidates):
                if keep is None or (sure and index == len(candidates) - 1) or keep(head + candidate + rest):
                    chosen = candidate
                    break
            done, last = head + chosen, match.end()
        text = done + text[last:]
    return text


def redact(text: str) -> str:
    """Phone numbers, e-mail addresses, dates of birth, long id numbers, names and street addresses, replaced.

    Safety first: names and addresses are guesses, and a guess that would hide a red flag ("I'm
    Bleeding") is not made; only the explicit forms ("my name is ...", "اسمي ...") always are.
    """
    for label, pattern in _REDACTIONS:
        text = pattern.sub(label, text)
    guessed = _guess(text)
    if guessed == text:
        return text
    from needlewise.red_flags import default_detector

    detector = default_detector()

    def flags(words: str) -> Set[str]:
        return {flag.category for flag in detector.detect(words)}

    before = flags(text)
    if not before or not before - flags(guessed):
        return guessed
    return _guess(text, keep=lambda candidate: not before - flags(candidate))


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
