"""What a patient sends, made safe before Rasa sees it (needlewise/inputs.py). Unit tests, no servers."""

from __future__ import annotations

import re
import unicodedata

import pytest

from needlewise.inputs import (
    MAX_COMBINING_PER_CHAR,
    MAX_MESSAGE_CHARS,
    RateLimiter,
    clean,
    is_forget_me,
    payload_or_text,
    prepare,
    redact,
    shorten,
    valid_sender,
)
from needlewise.signing import sign


def marks(text: str) -> int:
    return sum(unicodedata.category(char).startswith("M") for char in text)


# --- clean -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("\x00hello\x00", "hello"),
        ("\x01\x02\x1b[31mred\x7f", "[31mred"),
        ("abc\u202edcba\u202c", "abcdcba"),  # right-to-left override, pop directional formatting
        ("\u2066isolated\u2069 \u200fmark\u200e", "isolated mark"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("private \ue000use", "private use"),
        ("  spaced \t  out  ", "spaced out"),
    ],
)
def test_clean_removes_control_format_and_private_use_characters(raw, expected):
    assert clean(raw) == expected


def test_clean_keeps_newlines_between_lines():
    assert clean("first line\nsecond line\n\nthird") == "first line\nsecond line\n\nthird"


def test_clean_normalises_to_nfc():
    decomposed = "cafe\u0301 and re\u0301sume\u0301"
    cleaned = clean(decomposed)
    assert cleaned == "caf\u00e9 and r\u00e9sum\u00e9"
    assert unicodedata.is_normalized("NFC", cleaned)


@pytest.mark.parametrize("mark", ["\u0336", "\u0301", "\u0489", "\u20dd"])
def test_clean_trims_a_flood_of_combining_marks(mark):
    cleaned = clean("Z" + mark * 200)
    assert cleaned[0] == unicodedata.normalize("NFC", "Z" + mark)[0]
    assert marks(cleaned) <= MAX_COMBINING_PER_CHAR
    assert len(cleaned) <= 1 + MAX_COMBINING_PER_CHAR


def test_clean_trims_zalgo_text_per_letter_and_keeps_the_letters():
    zalgo = "".join(letter + "\u0316\u0337\u0350\u035c\u0361" * 10 for letter in "hello")
    cleaned = clean(zalgo)
    assert "".join(char for char in cleaned if not unicodedata.category(char).startswith("M")) == "hello"
    run = 0
    for char in cleaned:
        run = run + 1 if unicodedata.category(char).startswith("M") else 0
        assert run <= MAX_COMBINING_PER_CHAR
    assert len(cleaned) <= 5 * (1 + MAX_COMBINING_PER_CHAR)


def test_clean_keeps_ordinary_accents_emoji_and_other_scripts():
    for text in [
        "Jos\u00e9 \u00e0 la cr\u00e8che",
        "\U0001f600\U0001f44d",
        "\u0645\u0631\u062d\u0628\u0627",
        "\u05e9\u05dc\u05d5\u05dd",
    ]:
        assert clean(text) == text
    # a joiner inside an emoji sequence is kept (family emoji)
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean(family) == family


# --- shorten ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [20_000, 50_000])
def test_shorten_cuts_very_long_messages(length):
    words = ("needle " * (length // 7 + 1))[:length]
    short, truncated = shorten(words)
    assert truncated is True
    assert 0 < len(short) <= MAX_MESSAGE_CHARS
    assert short.endswith("needle")  # cut at a word boundary, not mid-word
    solid, truncated = shorten("x" * length)
    assert truncated is True
    assert solid == "x" * MAX_MESSAGE_CHARS


def test_shorten_leaves_a_message_at_the_limit_alone():
    exact = "y" * MAX_MESSAGE_CHARS
    assert shorten(exact) == (exact, False)
    assert shorten("what is dry needling?") == ("what is dry needling?", False)
    assert shorten("y" * (MAX_MESSAGE_CHARS + 1))[1] is True


# --- redact: identifying details ---------------------------------------------------------------------

#: (message, the strings that must not survive redaction)
PRIVATE = [
    # phone numbers
    ("call me on +44 20 7946 0958 please", ["+44", "7946", "0958"]),
    ("my number is (555) 010-0199", ["555", "010", "0199"]),
    ("text 0412 345 678 if there's a cancellation", ["0412", "345 678"]),
    ("reach me at 555.010.0199 after work", ["555.010", "0199"]),
    ("my mobile: 07700 900123", ["07700", "900123"]),
    ("phone 020-7946-0958 and ask for me", ["020-7946", "0958"]),
    ("ring 555 010 0199 tomorrow", ["555 010", "0199"]),
    ("+1 (555) 010-0199 is my cell", ["555", "0199"]),
    ("tel 0412-345-678", ["0412", "345", "678"]),
    ("phone: 0412345678", ["0412345678"]),
    # e-mail addresses
    ("email me at jane.doe@example.com", ["jane.doe", "example.com", "@"]),
    ("my address is j_smith+clinic@mail.example.org", ["j_smith", "example.org", "@"]),
    ("send it to PATIENT42@Example.co.uk thanks", ["PATIENT42", "Example.co.uk", "@"]),
    # dates of birth
    ("dob 03/04/1987", ["03/04", "1987"]),
    ("I was born on 3 March 1987", ["3 March", "1987"]),
    ("my birthday is 12th of May 1990", ["12th", "May", "1990"]),
    ("1987-04-03 is when I was born", ["1987", "04-03"]),
    ("DOB: 1987-04-03", ["1987", "04-03"]),
    ("date of birth 14.07.1979", ["14.07", "1979"]),
    ("born March 3, 1987", ["March 3", "1987"]),
    ("my birthday is May 12 1990", ["May 12", "1990"]),
    ("born on the 3rd of March, 1987", ["3rd", "March", "1987"]),
    ("I was born 12.5.1990", ["12.5", "1990"]),
    # id and insurance numbers
    ("my NHS number is 943 476 5919", ["943", "476", "5919"]),
    ("insurance number AB12345678", ["AB12345678", "12345678"]),
    ("policy 123456789012", ["123456789012"]),
    ("member id XYZ9876543", ["XYZ9876543", "9876543"]),
    ("my MRN is 00451237", ["00451237"]),
    # names
    ("my name is Anna Kowalski", ["Anna", "Kowalski"]),
    ("I'm Sarah and I have neck pain", ["Sarah"]),
    ("hi, this is Tom", ["Tom"]),
    ("call me Jo", ["Jo"]),
    ("thanks for the help, regards, Peter", ["Peter"]),
    ("My name's Priya Patel, is needling safe?", ["Priya", "Patel"]),
    ("i am called Mateusz", ["Mateusz"]),
    ("Cheers, Bob", ["Bob"]),
    ("name: Olivia", ["Olivia"]),
    ("hello, it's Marek here", ["Marek"]),
    ("my name is anna", ["anna"]),
    ("Kind regards, Peter Jones", ["Peter", "Jones"]),
    # everything at once
    (
        "Hi I'm Liam Byrne, dob 12/12/1980, ph 0412 345 678, liam@example.net",
        ["Liam", "Byrne", "12/12", "1980", "0412", "345 678", "example.net"],
    ),
]


@pytest.mark.parametrize(("message", "identifying"), PRIVATE, ids=[m for m, _ in PRIVATE])
def test_redact_removes_identifying_details(message, identifying):
    redacted = redact(message)
    assert redacted != message
    for secret in identifying:
        assert secret not in redacted, f"{secret!r} survived: {redacted!r}"
    assert re.search(r"\[(name|phone|email|date|number|address)\]", redacted), redacted  # a label, not dropped silently


def test_the_privacy_corpus_is_large_enough():
    assert len(PRIVATE) >= 30


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("my name is Anna-Maria O'Neil", "my name is [name]"),
        ("my name is Zo\u00eb \u00c5berg", "my name is [name]"),
        ("my name is Jos\u00e9", "my name is [name]"),
        ("my name is ANNA KOWALSKI", "my name is [name]"),
        ("I'm Sarah Jane Smith", "I'm [name]"),
    ],
)
def test_redact_removes_hyphenated_accented_capitalised_and_three_part_names(message, expected):
    assert redact(message) == expected


#: Ordinary patient questions: nothing in them identifies anyone, so redaction leaves them alone.
ORDINARY = [
    "i'm pregnant, can I have it?",
    "I had 3 sessions over 2 weeks",
    "pain is 7/10",
    "I'm worried about bruising",
    "this is painful",
    "I'm 45 and have had neck pain for 10 years",
    "I'm Not sure it worked",
    "I've had 12 sessions since 2021",
    "Thanks, that helps",
    "I am on warfarin 5 mg",
    "the needle went in about 2-3 cm",
    "my pain went from 8/10 to 4/10 in 3 weeks",
    "I take 400mg ibuprofen twice a day",
    "It's been 2 days and my shoulder still aches",
    "is 1 session every 7 days too often?",
    "I'm allergic to latex",
    "this is my first session",
    "call me back please",
    "my appointment is on Tuesday at 3pm",
    "Regards, and thanks",
    "I'm 32 weeks pregnant",
    "I'm in pain",
    "I'm okay now",
    "what is dry needling?",
    "does it hurt more than acupuncture?",
    "Is it OK to exercise the same day?",
    "I'm diabetic, is that a problem?",
    "how long will I be sore after 1 session?",
    "my neck hurts when I turn left",
    "I've had 10-12 sessions",
    # doctors, streets and numbers that identify nobody
    "Should I ask my doctor about needling?",
    "my GP said it was fine to try",
    "I asked the doctor if it's ok",
    "I saw the doctor. He said rest",
    "Doctor, is it safe?",
    "Is Dr available on Monday?",
    "the dr told me to rest",
    "I'm seeing the doctor Monday",
    "I have MS, can I have it?",
    "I'll miss Monday's session",
    "the Road to recovery is long",
    "how many sessions in 2 weeks",
    "I'm 45",
    "does it hurt on the street",
    "I had 3 sessions on the road to recovery",
    "I walked 5 miles down the road after my session",
    "after 2 long road trips my neck hurts",
    "the clinic is on Harbour Road, right?",
    "I live in London",
    "I live on my own, is that ok",
    "my address is changing next month",
    "I was born with a heart murmur, is needling ok?",
    "my neck pain started when my son was born 3 years ago",
    "my birthday is next week, can I book before?",
    "3 sessions",
    "10 minutes",
    "in 2 days",
    "pain 7/10",
    "my appointment is on 12 May",
    # Portuguese
    "o médico disse que posso fazer",
    "a doutora falou que é seguro",
    "perguntei ao doutor sobre isso",
    "sou alérgica a látex",
    "sou a favor do tratamento",
    "tenho 45 anos",
    "fiz 3 sessões em 2 semanas",
    "dói na rua quando ando",
    "caí na rua molhada 2 vezes",
    "andando na rua senti dor",
    "a clínica fica na Rua Augusta?",
    "moro em São Paulo",
    "moro longe da clínica",
    "dor 7/10 depois de 2 dias",
    "minha consulta é dia 12 de maio",
    "fiz aniversário ontem",
    # Arabic
    "عمري 45 سنة",
    "سألت الدكتور عن الجلسة",
    "الدكتور قال لي أن أرتاح",
    "هل يجب أن أسأل الدكتور قبل الجلسة",
    "مشيت في شارع طويل بعد الجلسة",
    "هل يؤلم في الشارع",
    "أسكن في دبي",
    "أسكن قريب من العيادة",
    "3 جلسات في أسبوعين",
    "الألم 7/10",
    "هل العيادة في شارع الوصل؟",
]


@pytest.mark.parametrize("message", ORDINARY)
def test_redact_leaves_ordinary_questions_unchanged(message):
    assert redact(message) == message


def test_the_ordinary_corpus_is_large_enough():
    assert len(ORDINARY) >= 20


def test_ordinary_messages_the_red_flag_layer_must_not_fire_on_are_left_alone():
    from tests.test_red_flags import NOT_REPORTED

    assert [(text, redact(text)) for text in NOT_REPORTED if redact(text) != text] == []


# --- redact: names after a title, names in Portuguese and Arabic, street addresses, other dates ------------

NAMES_AND_ADDRESSES = [
    # a name after a title
    ("Dr. Patel said I should rest", "Dr. [name] said I should rest"),
    ("Mrs. Okafor booked me in", "Mrs. [name] booked me in"),
    ("Mr John Smith is my husband", "Mr [name] is my husband"),
    ("my GP, Dr Hartigan, referred me", "my GP, Dr [name], referred me"),
    ("can Ms Delacroix-Fenn see me?", "can Ms [name] see me?"),
    ("dr patel said it was fine", "dr [name] said it was fine"),
    ("Dra. Ana Souza recomendou agulhamento", "Dra. [name] recomendou agulhamento"),
    ("Sr. João disse que sim", "Sr. [name] disse que sim"),
    ("o Dr. Henrique de Vasconcelos disse", "o Dr. [name] disse"),
    ("a doutora Luíza Maranhão falou", "a doutora [name] falou"),
    ("الدكتور أحمد قال لي أن أرتاح", "الدكتور [name] قال لي أن أرتاح"),
    ("الدكتورة ريم الحمادي نصحتني", "الدكتورة [name] نصحتني"),
    ("سألت د. سلمى عن الجلسات", "سألت د. [name] عن الجلسات"),
    # a name introduced, in Portuguese and Arabic
    ("me chamo Ana Souza", "me chamo [name]"),
    ("meu nome é João da Silva", "meu nome é [name]"),
    ("meu nome é rodrigo nogueira", "meu nome é [name]"),
    ("Olá, sou a Marcela e queria saber o preço", "Olá, sou a [name] e queria saber o preço"),
    ("اسمي فاطمة المنصوري وعندي ألم في الرقبة", "اسمي [name] وعندي ألم في الرقبة"),
    ("إسمي لطيفة بنت راشد", "إسمي [name]"),
    ("مرحبا، اسمي مريم", "مرحبا، اسمي [name]"),
    # a street address
    ("I live at 14 Harbour Road", "I live at [address]"),
    ("my address is 221B Baker Street, London", "my address is [address], London"),
    ("i live at 7 pembury close", "i live at [address]"),
    ("I live on Harbour Road", "I live on [address]"),
    ("send it to Flat 3, 12 Ellery Avenue please", "send it to [address] please"),
    ("my address is Rose Cottage, Little Hampden", "my address is [address], Little Hampden"),
    ("postcode SW1A 1AA", "postcode [address]"),
    ("moro na Rua Augusta, 1500", "moro na [address]"),
    ("Av. Paulista 1000 apto 52", "[address]"),
    ("moro na rua joaquim floriano 733", "moro na [address]"),
    ("moro na Rua Dr. Arnaldo, 455", "moro na [address]"),  # a title inside a street's name
    ("pode mandar para Rua Tenente Sarmento, nº 455, bloco B", "pode mandar para [address]"),
    ("CEP 01310-100", "[address]"),
    ("أسكن في شارع الشيخ زايد، فيلا 12", "أسكن في [address]"),
    ("اسكن بشارع النخيل رقم 23", "اسكن ب[address]"),
    ("عنواني: شارع المنخول 15، شقة 304", "عنواني: [address]"),
    # dates of birth in Portuguese and Arabic; the words after an English one are kept
    ("nasci em 12 de março de 1985", "nasci em [date]"),
    ("nascida em 1987, posso fazer?", "nascida em [date], posso fazer?"),
    ("ولدت في 12 مارس 1985", "ولدت في [date]"),
    ("من مواليد ١٩٨٥", "من مواليد [date]"),
    ("I was born on 3 March 1979, is that ok?", "I was [date], is that ok?"),
]


@pytest.mark.parametrize(("message", "expected"), NAMES_AND_ADDRESSES, ids=[m for m, _ in NAMES_AND_ADDRESSES])
def test_redact_replaces_names_after_titles_addresses_and_dates_in_every_language(message, expected):
    assert redact(message) == expected


def categories(text: str) -> set:
    from needlewise.red_flags import default_detector

    return {flag.category for flag in default_detector().detect(text)}


@pytest.mark.parametrize(
    "message",
    [
        "Doctor Chest pain after needling",
        "Dr Bleeding from the needle site won't stop",
        "الدكتور صدري يؤلمني",
        "Dra. Falta de ar desde a sessão",
        "Sr. Desmaiei depois da sessão",
    ],
)
def test_a_title_never_takes_a_symptom_for_a_name(message):
    """The words after a title look like a name, but taking them would hide the red flag: they stay."""
    assert categories(message), "the corpus message itself must be a red flag"
    assert prepare(message).text == message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("I live at 14 Harbour Road and I can't breathe", "I live at [address] and I can't breathe"),
        ("my name is Sarah and my chest hurts", "my name is [name] and my chest hurts"),
        # "my name is" is explicit: the first word goes, the next one would hide the red flag and stays
        ("اسمي سارة صدري يؤلمني", "اسمي [name] صدري يؤلمني"),
    ],
)
def test_details_next_to_a_red_flag_are_redacted_and_the_red_flag_kept(message, expected):
    assert prepare(message).text == expected
    assert categories(expected) == categories(message) != set()


def test_every_reported_emergency_keeps_its_red_flag_after_prepare():
    from tests.test_red_flags import REPORTED

    lost = [(text, prepare(text).text) for text, category in REPORTED if category not in categories(prepare(text).text)]
    assert lost == []


@pytest.mark.parametrize(
    "message",
    ["I'm Bleeding and it won't stop", "I'm Fainting", "I am Suicidal", "im Suicidal", "I'm Numb in my arm"],
)
def test_redact_never_removes_a_symptom_the_red_flag_layer_needs(message):
    from needlewise.red_flags import default_detector

    detector = default_detector()
    assert detector.detect(message), "the corpus message itself must be a red flag"
    assert detector.detect(prepare(message).text), prepare(message).text


# --- payloads --------------------------------------------------------------------------------------


def test_a_signed_button_payload_stays_a_payload():
    payload = "/what_is_dry_needling"
    assert payload_or_text(payload, sign(payload)) == payload
    assert prepare(payload, sign(payload)).text == payload


def no_command_characters(text: str) -> bool:
    return not any(char in text for char in "/{}@")


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("/what_is_dry_needling", None),
        ("/what_is_dry_needling", ""),
        ("/what_is_dry_needling", "0" * 24),
        ("/what_is_dry_needling", sign("/does_it_work")),  # a real token, for another button
        ("/what_is_dry_needling", sign("/what_is_dry_needling")[:-1]),
        ("/what_is_dry_needling", 12345),
        ("/what_is_dry_needling", [sign("/what_is_dry_needling")]),
        ('/greet{"red_flag":"crisis"}', None),
        ('/greet{"red_flag":"crisis"}', sign('/greet{"red_flag":"crisis"}')),  # entities never pass
        ("/restart", None),
        ("/action_listen", None),
        ("/session_start", None),
        ("/urgent@0.99", None),
        ("/urgent@0.99", sign("/urgent@0.99")),
        ("/back", "nonsense"),
        ('/inform{"name": "x"}@1.0', None),
    ],
)
def test_unsigned_or_forged_payloads_become_plain_words(text, token):
    words = payload_or_text(text, token)
    assert words != text
    assert no_command_characters(words), words
    assert words.strip() == words
    assert no_command_characters(prepare(text, token).text)


def test_payload_words_keep_the_intent_name_readable():
    assert payload_or_text("/what_is_dry_needling", None) == "what is dry needling"
    assert payload_or_text("/restart", None) == "restart"


def test_text_that_is_not_a_payload_is_untouched():
    assert payload_or_text("what about /restart?", None) == "what about /restart?"
    assert payload_or_text("a {b} c@d", None) == "a {b} c@d"


def test_a_payload_hidden_behind_spaces_or_controls_is_still_neutralised():
    for text in ["  /restart", "\x00/restart", "\u202e/restart", "\t/action_listen"]:
        assert no_command_characters(prepare(text).text), text


# --- prepare ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", None, "\x00\x01", "\u202e\u200b"])
def test_prepare_marks_empty_messages(text):
    prepared = prepare(text)
    assert prepared.empty is True
    assert prepared.text == ""
    assert prepared.forget is False


@pytest.mark.parametrize(
    "text",
    [
        "forget me",
        "Forget me!",
        "please delete my conversation",
        "Please delete my data.",
        "forget about me",
        "erase this chat",
        "wipe my history",
        "  clear our messages  ",
    ],
)
def test_prepare_recognises_forget_me(text):
    prepared = prepare(text)
    assert prepared.forget is True
    assert prepared.empty is False


@pytest.mark.parametrize(
    "text",
    [
        "how do I forget about the pain?",
        "can you delete my appointment?",
        "I forgot my medicine",
        "what data do you keep?",
        "forget me not is a flower",
    ],
)
def test_prepare_does_not_mistake_other_messages_for_forget_me(text):
    assert prepare(text).forget is False
    assert is_forget_me(text) is False


def test_prepare_cleans_shortens_and_redacts_together():
    prepared = prepare("\x00my name is Anna Kowalski\u202e, " + "why " * 5_000)
    assert prepared.truncated is True
    assert len(prepared.text) <= MAX_MESSAGE_CHARS
    assert "Anna" not in prepared.text and "Kowalski" not in prepared.text
    assert "\x00" not in prepared.text and "\u202e" not in prepared.text
    assert prepared.empty is False and prepared.forget is False


# --- senders ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sender", ["a", "web-123", "kiosk:abc", "user@clinic", "A.b_c-d", "x" * 128])
def test_valid_senders(sender):
    assert valid_sender(sender)


@pytest.mark.parametrize(
    "sender", ["", " a", "a b", "a/b", "../x", "-a", "x" * 129, "x" * 10_000, 12345, None, ["a"], "a\nb", "\u00e9"]
)
def test_invalid_senders(sender):
    assert not valid_sender(sender)


# --- rate limits -----------------------------------------------------------------------------------


def test_rate_limiter_allows_the_limit_then_refuses_then_allows_after_the_window():
    limiter = RateLimiter(limit=3, window=60.0)
    assert [limiter.allow("patient", now=t) for t in (0.0, 1.0, 2.0)] == [True, True, True]
    assert limiter.allow("patient", now=3.0) is False
    assert limiter.allow("patient", now=59.0) is False
    assert limiter.allow("someone-else", now=3.0) is True  # per key
    assert limiter.allow("patient", now=60.5) is True  # the hit at 0 s has left the window
    assert limiter.allow("patient", now=60.6) is False  # hits at 1, 2 and 60.5 are still in it
    assert limiter.allow("patient", now=200.0) is True


def test_refused_messages_do_not_count_against_the_window():
    limiter = RateLimiter(limit=2, window=10.0)
    assert limiter.allow("k", now=0.0) and limiter.allow("k", now=1.0)
    assert not any(limiter.allow("k", now=2.0 + i / 10) for i in range(50))
    assert limiter.allow("k", now=10.5) is True


def test_a_zero_limit_means_no_limit():
    limiter = RateLimiter(limit=0)
    assert all(limiter.allow("k", now=1.0) for _ in range(1_000))


def test_rate_limiter_uses_the_clock_when_no_time_is_given():
    limiter = RateLimiter(limit=1, window=60.0)
    assert limiter.allow("k") is True
    assert limiter.allow("k") is False


def test_a_huge_message_is_cut_before_the_character_by_character_cleaning():
    prepared = prepare("why " * 250_000)  # 1 MB, the request size limit
    assert prepared.truncated is True
    assert 0 < len(prepared.text) <= MAX_MESSAGE_CHARS


def test_the_rate_limiter_forgets_idle_keys_once_there_are_very_many():
    limiter = RateLimiter(5, window=60)
    for number in range(100_001):
        limiter.allow(f"sender-{number}", now=0.0)
    limiter.allow("late", now=61.0)  # everything before is idle now
    assert list(limiter.hits) == ["late"]
