"""The deterministic red-flag layer: fires on reported emergencies, not on ordinary questions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from needlewise.inputs import prepare
from needlewise.red_flags import (
    RedFlag,
    RedFlagDetector,
    Speller,
    default_detector,
    fold,
    load_config,
    load_patterns,
    normalise,
    summary,
)

CATEGORIES = {
    "breathing",
    "chest_pain",
    "fainting",
    "infection",
    "weakness_numbness",
    "bleeding",
    "allergic",
    "headache",
    "stroke",
    "coughing_blood",
    "neck_swelling",
    "crisis",
}

REPORTED = [
    # breathing
    ("i cant breathe properly since the session", "breathing"),
    ("Short of breath after my neck was needled this morning", "breathing"),
    ("it hurts when I breathe in, sharp pain on the right", "breathing"),
    ("i cant breath", "breathing"),
    ("I'm so short of breth since this afternoon", "breathing"),
    ("brethless sinse neeedling", "breathing"),
    ("struggling to get air in, it started after the needles", "breathing"),
    ("I think I have a collapsed lung, it hurts to breathe", "breathing"),
    ("my breathing feels really shallow and fast", "breathing"),
    ("gasping for air right now", "breathing"),
    ("is it normal that I can't get a full breath since this morning?", "breathing"),
    # chest pain
    ("my chest feels tight and heavy", "chest_pain"),
    ("chest pain after needling", "chest_pain"),
    ("chest pian since the session", "chest_pain"),
    ("sharp stabbing pain in my chest when I move", "chest_pain"),
    ("there's a crushing pressure on my chest", "chest_pain"),
    ("is it normal that my chest hurts this much?", "chest_pain"),
    ("why does my chest hurt so much after the treatment?", "chest_pain"),
    ("Hi, sorry to bother you. My chest is really sore and tight tonight", "chest_pain"),
    # fainting
    ("I passed out in the car park after my appointment", "fainting"),
    ("i feel faint and the room is spinning", "fainting"),
    ("what should I do? I fainted twice today", "fainting"),
    ("I fainted an hour ago after my session", "fainting"),
    ("feel faintt and shaky", "fainting"),
    ("i feel like i'm going to pass out", "fainting"),
    ("I keep blacking out", "fainting"),
    ("my wife collapsed after her dry needling and isn't responding properly", "fainting"),
    ("I feel really lightheaded, like I might faint", "fainting"),
    ("nearly fainted in the shower just now", "fainting"),
    # infection
    ("the needle spot is red and the redness is spreading", "infection"),
    ("there is pus coming out where the needle went in", "infection"),
    ("I have a fever and chills since yesterday's session", "infection"),
    ("since yesterday I have a fever", "infection"),
    ("red streaks are running up my arm from the needle site", "infection"),
    ("I think the needle spot is infected, it's hot and swollen", "infection"),
    ("could this be an infection? the spot is oozing", "infection"),
    ("I had a fever last month and now I have a fever again since last night", "infection"),
    # weakness / numbness
    ("my left arm has gone weak since the needling", "weakness_numbness"),
    ("i cant lift my arm above my head anymore", "weakness_numbness"),
    ("numbness down my arm into my fingers, started an hour ago", "weakness_numbness"),
    ("numbnes in my arm since yesterday", "weakness_numbness"),
    ("I've lost strength in my hand and keep dropping things", "weakness_numbness"),
    ("I can't feel my fingers on the right hand", "weakness_numbness"),
    # bleeding
    ("it's bleeding and won't stop", "bleeding"),
    ("it has been bleeding for twenty minutes", "bleeding"),
    ("still bleeding after pressing on it for ages", "bleeding"),
    ("the needle hole won't stop bleeding, I'm on warfarin", "bleeding"),
    ("blood keeps coming out of the spot", "bleeding"),
    # allergic
    ("my lips are swelling up and i have hives", "allergic"),
    ("my throat feels like it's closing", "allergic"),
    ("i think i'm having an allergic reaction", "allergic"),
    ("my tongue is swollen", "allergic"),
    # headache (new)
    ("I have the worst headache of my life", "headache"),
    ("thunderclap headahce that came on out of nowhere", "headache"),
    ("sudden severe headache at the back of my head", "headache"),
    ("headache and a stiff neck since this morning", "headache"),
    ("bad headache with a fever tonight", "headache"),
    ("I've never had a headache like this before", "headache"),
    ("excruciating headache started suddenly after the neck needling", "headache"),
    # stroke / cervical artery signs (new)
    ("my face is drooping on one side", "stroke"),
    ("my speech is slurred and I feel weird", "stroke"),
    ("I suddenly feel very dizzy", "stroke"),
    ("I'm seeing double since the needling", "stroke"),
    ("I can't speak properly, the words come out wrong", "stroke"),
    ("my legs suddenly gave way and I fell", "stroke"),
    ("the left side of my face is numb", "stroke"),
    ("I'm having trouble swallowing since this morning", "stroke"),
    ("could I be having a stroke?", "stroke"),
    ("i think i'm having a stroke", "stroke"),
    ("sudden vertigo and I can't walk straight", "stroke"),
    ("my husband is having a stroke after his session", "stroke"),
    # coughing blood (new)
    ("I'm coughing up blood", "coughing_blood"),
    ("coughing up bllod since the session", "coughing_blood"),
    ("there's blood in my phlegm when I cough", "coughing_blood"),
    ("spitting blood this morning", "coughing_blood"),
    # neck swelling with trouble swallowing / breathing (new)
    ("my neck is swollen and I can hardly swallow", "neck_swelling"),
    ("swelling in my neck and it's getting hard to breathe", "neck_swelling"),
    ("a lump is growing on my neck where they needled", "neck_swelling"),
    # crisis: always, even in a question
    ("I want to kill myself", "crisis"),
    ("sometimes i think everyone would be better off without me", "crisis"),
    ("i don't want to be alive anymore", "crisis"),
    ("I keep thinking about ending my life", "crisis"),
    ("im feeling sucidal", "crisis"),
    ("what's the point of living like this", "crisis"),
    ("is it normal to want to die when the pain is this bad?", "crisis"),
    ("i wanna kms", "crisis"),
    ("I've been having suicidal thoughts", "crisis"),
    ("i just want to go to sleep and never wake up", "crisis"),
    ("nobody would miss me if I was gone", "crisis"),
    # Portuguese (pt-BR and pt-PT)
    ("estou com dor no peito desde a sessão", "chest_pain"),
    ("dói-me o peito", "chest_pain"),
    ("não consigo respirar", "breathing"),
    ("tenho muita falta de ar", "breathing"),
    ("desmaiei depois do agulhamento", "fainting"),
    ("quero morrer", "crisis"),
    ("estou a pensar em matar-me", "crisis"),
    ("minha boca está torta e não consigo falar direito", "stroke"),
    ("sinto o lado esquerdo do corpo dormente", "stroke"),
    ("estou tossindo sangue", "coughing_blood"),
    # Spanish
    ("me duele mucho el pecho", "chest_pain"),
    ("no puedo respirar bien", "breathing"),
    ("me desmayé en el coche después de la sesión", "fainting"),
    ("quiero morirme", "crisis"),
    ("tengo la cara caída y no puedo hablar bien", "stroke"),
    ("estoy tosiendo sangre", "coughing_blood"),
    ("tengo pensamientos suicidas", "crisis"),
    # French and German
    ("j'ai une douleur dans la poitrine", "chest_pain"),
    ("je n'arrive pas à respirer", "breathing"),
    ("je me suis évanouie", "fainting"),
    ("je veux mourir", "crisis"),
    ("ich habe starke Brustschmerzen", "chest_pain"),
    ("ich bekomme keine Luft", "breathing"),
    ("ich will nicht mehr leben", "crisis"),
    # Arabic (with and without diacritics, tatweel, alef forms, attached prefixes)
    ("عندي ألم في صدري", "chest_pain"),
    ("صـــدري يوجعني", "chest_pain"),
    ("لا أستطيع التنفس", "breathing"),
    ("مش قادر أتنفس", "breathing"),
    ("عندي ضيق تنفس شديد", "breathing"),
    ("أُغْمِيَ عَلَيَّ بعد الجلسة", "fainting"),
    ("أريد أن أموت", "crisis"),
    ("بدي انتحر", "crisis"),
    ("أفكر في الانتحار", "crisis"),
    ("وجهي مايل وما اقدر اتكلم", "stroke"),
    ("أسعل دماً منذ الصباح", "coughing_blood"),
    # more phrasings: stories, questions about one's own symptom, odd grammar
    ("Had my second session today on my upper traps. An hour later I got short of breath and it's worse", "breathing"),
    ("i was fine at first but now i can't breathe", "breathing"),
    ("chest tight, can't breathe, help", "chest_pain"),
    ("Doc, my chest is killing me since the needles", "chest_pain"),
    ("do you think it's infected?", "infection"),
    ("is it normal to have a fever of 39 two days after needling?", "infection"),
    ("why can't I feel my fingers", "weakness_numbness"),
    ("I have no feeling in my hand", "weakness_numbness"),
    ("it's been bleeding on and off since the appointment and won't stop", "bleeding"),
    ("I'm bleeding a lot from the needle site", "bleeding"),
    ("HELP my throat is closing up", "allergic"),
    ("is it normal to be this dizzy? the room won't stop spinning", "stroke"),
    ("I've never felt this dizzy in my life", "stroke"),
    ("Can't feel the left side of my face", "stroke"),
    ("the back of my head hurts like never before", "headache"),
    ("i had needling 2 weeks ago and since then my arm is numb", "weakness_numbness"),
    ("I'm not sure if it's normal but my chest really hurts", "chest_pain"),
    ("tô com falta de ar", "breathing"),
    ("estou a tossir sangue", "coughing_blood"),
    ("me ahogo", "breathing"),
    ("je n'arrive plus à respirer", "breathing"),
    ("mein Arm ist taub", "stroke"),
    ("صدري يألمني", "chest_pain"),
    ("بدي اقتل حالي", "crisis"),
    ("ما اقدر ابلع", "stroke"),
    ("الدم ما وقف", "bleeding"),
    ("I fainted an hour ago and I feel awful", "fainting"),
    ("tenho pensado em pôr fim à minha vida", "crisis"),
    ("a veces pienso en poner fin a mi vida", "crisis"),
]

NOT_REPORTED = [
    # general questions about a risk
    "can dry needling cause a collapsed lung?",
    "how common is infection after dry needling",
    "how common is a pneumothorax after needling",
    "is fainting a side effect?",
    "what are the warning signs after a session?",
    "what should i do if i get short of breath later?",
    "when should I worry about chest pain after treatment",
    "has anyone ever fainted during dry needling",
    "is it possible to get an infection from the needles",
    "Hi! Can needling the neck cause a stroke?",
    "what are the signs of a stroke I should look out for",
    "does dry needling help with vertigo?",
    "can dry needling help my severe headaches?",
    "is it normal to feel faint after needling?",
    "how rare is a punctured lung",
    "do people get fevers after dry needling?",
    "what are the chances I faint?",
    "should i be worried about infection?",
    "could needling the neck make my arm weak",
    "will i bruise or bleed afterwards",
    "is a bit of bleeding normal",
    "the leaflet says bleeding that won't stop is a warning sign",
    # past events as background
    "I fainted once years ago at a vaccination, will that happen with needles?",
    "I had a fever last month but I'm fine now, can I still come?",
    "my dad had a stroke in 2019, is DN safe for me?",
    "I used to get chest pain as a kid, is that a problem?",
    "when I was a teenager I passed out giving blood",
    "I had a collapsed lung in 2015, can I still have needling?",
    "I've had a stroke, is dry needling safe for me?",
    "last time I felt a zap down my arm and my hand tingled for a second, is that normal?",
    "last year I had an infection after a tattoo",
    "I felt a bit lightheaded during yesterday's session but I'm fine now",
    "my mum fainted when she had needling, will I?",
    "my friend got an infection from acupuncture",
    # negation
    "no fever, no swelling, just a bit sore",
    "I'm not short of breath or anything",
    "no chest pain at all",
    "I don't have a fever or chills",
    "not dizzy, not faint, just tired",
    "there's no pus and it isn't spreading",
    "I never fainted during any of my sessions",
    "my chest doesn't hurt, only my shoulder",
    "breathing is fine, just a sore neck",
    "no numbness or tingling in my arm",
    "the spot isn't bleeding anymore",
    "I'd like to book for my shoulder, no infections or anything",
    # hypotheticals and the future
    "what if I faint?",
    "will I bleed a lot",
    "could I get an infection",
    "what happens if it gets infected",
    "in case I feel faint, should I bring someone?",
    "would I be able to tell if my lung collapsed?",
    "I might get a headache afterwards, right?",
    "if my arm goes numb, should I call you?",
    "My physio said I might feel faint after the first session",
    "is it safe to have dry needling if I had a stroke?",
    # nerves
    "I'm so nervous I might pass out just thinking about needles lol",
    "the thought of needles makes me feel faint",
    "i'm a bit nervous i might faint",
    # work, travel, driving, billing
    "can I drive home after",
    "I have a flight the day after",
    "I was charged twice, this is killing me",
    "can i go for a run after my session",
    "I'm painting my house tomorrow, can I still come?",
    "when will I be discharged from physio?",
    # figures of speech and lookalikes
    "this neck pain is killing me",
    "I'm dying to know if it works",
    "my boss is a headache",
    "I'm out of breath from running to get here lol",
    "I hurt myself at the gym last week, can dry needling help?",
    "I have hay fever, is that ok?",
    "I had a chest infection, can I still come?",
    "I killed myself laughing at the physio's jokes",
    "I'm walking and talking fine after the session",
    # expected soreness and bruising
    "small bruise at the needle spot",
    "neck stiff and sore today after the session",
    "a little bruise and some soreness where the needle went in",
    "my shoulder feels heavy and achy",
    "I felt a twitch and a bit of tingling, is that normal?",
    "how long does the soreness last",
    "what is dry needling",
    "i plan to do it again next week",
    # other languages: denials and general questions
    "não tenho dor no peito",
    "sem febre, só um pouco dolorido",
    "o agulhamento pode causar desmaio?",
    "no tengo fiebre",
    "no me duele el pecho",
    "¿y si me desmayo?",
    "je n'ai pas de douleur à la poitrine",
    "ich habe keine Brustschmerzen",
    "ليس عندي ألم في الصدر",
    # more traps
    "can dry needling affect my breathing?",
    "is there a chance my lung could collapse?",
    "can needling make my arm weak?",
    "do i have to worry about infection?",
    "can my arm go numb from needling?",
    "I've fainted before at the dentist, will I faint with needling?",
    "Back when I had covid I was short of breath",
    "I have had numbness in my fingers for years from carpal tunnel",
    "didn't faint, just felt a bit woozy",
    "neither numb nor weak",
    "I'm worried about fainting",
    "I'm terrified I'll faint",
    "the guy before me fainted lol",
    "a friend of mine got an infection from needling",
    "I nearly had a heart attack when I saw the price",
    "I'm gonna have a stroke if this traffic continues lol",
    "I'm breathless with excitement",
    "is vertigo a side effect?",
    "i want to die my hair after the session, is that ok?",
    "my legs are dead from the gym lol",
    "I'm not suicidal, just wanted to ask about costs",
    "tenho medo de desmaiar",
    "¿la punción seca puede causar infección?",
    "ما اغمي علي",
    "لا يوجد ضيق في التنفس",
    "",
    "   ",
    "I passed out at a blood test years ago and have been jumpy around needles since",
    "I had a mini stroke in 2015 and I am on aspirin now, can I still have needling?",
    "I am a nervous wreck about tomorrow, I hate needles and nearly passed out at my last blood test",
    "I fainted at my last vaccination, so will the needling make me faint too?",
]


@pytest.fixture(scope="module")
def detector() -> RedFlagDetector:
    return default_detector()


def test_the_corpora_are_large_and_cover_every_category():
    assert len(REPORTED) >= 80 and len(NOT_REPORTED) >= 80
    assert {category for _, category in REPORTED} == CATEGORIES


@pytest.mark.parametrize(("text", "category"), REPORTED)
def test_reported_emergencies_fire(detector, text, category):
    assert category in [flag.category for flag in detector.detect(text)]


@pytest.mark.parametrize("text", NOT_REPORTED)
def test_ordinary_messages_do_not_fire(detector, text):
    assert detector.detect(text) == []


def test_crisis_comes_first_when_several_fire(detector):
    flags = detector.detect("my chest hurts and i want to end my life")
    assert flags[0].category == "crisis" and flags[0].crisis
    assert {"crisis", "chest_pain"} <= {f.category for f in flags}
    assert summary(flags) == (True, "crisis")


def test_crisis_fires_even_in_a_question_a_hypothetical_or_the_past(detector):
    assert summary(detector.detect("can thinking about suicide make the pain worse?"))[0]
    assert summary(detector.detect("what if I just want to die some days"))[0]
    assert summary(detector.detect("I was suicidal years ago"))[0]
    assert summary(detector.detect("I'm not suicidal, but I just want to die some days"))[0]
    assert detector.detect("I'm not suicidal") == []  # only a denial right before it stops it


def test_summary_of_nothing():
    assert summary([]) == (False, None)


def test_a_recent_past_is_a_report_but_an_old_one_is_not(detector):
    assert detector.detect("I fainted last night after my session")
    assert detector.detect("I fainted this morning")
    assert not detector.detect("I fainted as a kid")
    assert not detector.detect("I fainted once at the dentist")


def test_a_typo_reports_the_patients_own_words(detector):
    text = "coughing up bllod"
    [flag] = detector.detect(text)
    assert flag.category == "coughing_blood" and flag.matched == "coughing up bllod"
    assert text.find(flag.matched.split()[0]) == 0  # how RedFlagOverride places the entity


def test_contractions_are_spelled_out():
    assert (
        normalise("I can\u2019t breathe, I'm scared, it won't stop")
        == "i can not breathe, i am scared, it will not stop"
    )


def test_fold_removes_accents_and_normalises_arabic():
    assert fold("Coração, DESMAIÉ, ñ") == "coracao, desmaie, n"
    assert fold("أُغْمِيَ عَلَيَّ") == "اغمي علي"
    assert fold("صـــدري إلى آخر مدرسة") == "صدري الي اخر مدرسه"


@pytest.mark.parametrize(
    ("typo", "word"),
    [
        ("breth", "breath"),
        ("pian", "pain"),
        ("faintt", "faint"),
        ("numbnes", "numbness"),
        ("bllod", "blood"),
        ("headahce", "headache"),
        ("sucidal", "suicidal"),
        ("swolen", "swollen"),
        ("dizzyness", "dizziness"),
    ],
)
def test_the_speller_corrects_symptom_typos(detector, typo, word):
    assert detector.speller.correct(typo) == word


@pytest.mark.parametrize(
    "word", ["paint", "cooking", "sleeping", "walking", "needling", "discharged", "breath", "arm", "flight", "fine"]
)
def test_the_speller_leaves_real_words_alone(detector, word):
    assert detector.speller.correct(word) == word


def test_the_speller_has_limits():
    speller = Speller(["headache", "faint", "pain"], allow=["feint"])
    assert speller.correct("hedache") == "headache"  # one edit
    assert speller.correct("haedahce") == "headache"  # two swaps, eight letters
    assert speller.correct("hdeahce") == "hdeahce"  # two edits, seven letters
    assert speller.correct("fiant") == "faint"
    assert speller.correct("fnait") == "fnait"  # two edits, five letters
    assert speller.correct("feint") == "feint"  # allowed
    assert speller.correct("pani") == "pain"  # four letters: a swap only
    assert speller.correct("paid") == "paid"
    assert speller.correct("café") == "café"


def test_every_category_has_patterns_that_compile():
    patterns = load_patterns()
    assert set(patterns) == CATEGORIES
    detector = RedFlagDetector(patterns)
    assert detector.pattern_count > 100


def test_every_language_has_the_core_emergencies():
    languages = load_config()["languages"]
    assert {"pt", "es", "fr", "de", "ar"} <= set(languages)
    core = {"chest_pain", "breathing", "fainting", "crisis", "stroke", "coughing_blood"}
    for code, spec in languages.items():
        assert core <= set(spec), code


def test_a_small_custom_pattern_file_works():
    detector = RedFlagDetector({"test": ["sharp|stabbing * pain", "passed_out"]})
    assert [f.category for f in detector.detect("a stabbing awful pain")] == ["test"]
    assert [f.matched for f in detector.detect("i passed out")] == ["passed out"]
    assert detector.detect("can it cause stabbing pain?") == []
    assert detector.detect("a stabbing but not awful pain") == []  # `*` never crosses a negation
    assert detector.detect("a stabing pain") == [RedFlag("test", "stabing pain", "a stabing pain")]


def test_a_custom_language_section_works():
    detector = RedFlagDetector({}, languages={"pt": {"_not_before": [r"\bnao\b"], "chest_pain": [r"\bdor no peito\b"]}})
    assert [f.category for f in detector.detect("Estou com dor no peito")] == ["chest_pain"]
    assert detector.detect("Não tenho dor no peito") == []


# --- Brazilian Portuguese and Arabic development cases (tests/red_flags/dev_pt_ar.yml) ---------------

DEV_FILE = Path(__file__).parent / "red_flags" / "dev_pt_ar.yml"
DEV = yaml.safe_load(DEV_FILE.read_text(encoding="utf-8"))
DEV_URGENT = [(lang, text, category) for lang, cases in DEV.items() for text, category in cases["urgent"]]
DEV_ORDINARY = [(lang, text) for lang, cases in DEV.items() for text in cases["ordinary"]]


def test_the_dev_set_is_large_and_covers_every_category():
    for lang, cases in DEV.items():
        assert len(cases["urgent"]) >= 40 and len(cases["ordinary"]) >= 60, lang
        assert {category for _, category in cases["urgent"]} == CATEGORIES, lang


@pytest.mark.parametrize(
    ("lang", "text", "category"),
    DEV_URGENT,
    ids=[f"{lang}-urgent-{category}-{i}" for i, (lang, _, category) in enumerate(DEV_URGENT)],
)
def test_dev_urgent_messages_fire(detector, lang, text, category):
    """As the channel sees it: after `prepare` (cleaning, redaction)."""
    assert category in [flag.category for flag in detector.detect(prepare(text).text)], text


@pytest.mark.parametrize(
    ("lang", "text"), DEV_ORDINARY, ids=[f"{lang}-ordinary-{i}" for i, (lang, _) in enumerate(DEV_ORDINARY)]
)
def test_dev_ordinary_messages_do_not_fire(detector, lang, text):
    assert detector.detect(prepare(text).text) == [], text


def test_foreign_past_context_is_overruled_by_a_now_cue(detector):
    assert detector.detect("desmaiei uma vez no dentista anos atrás") == []
    assert [f.category for f in detector.detect("desmaiei uma vez anos atrás e agora desmaiei de novo")] == ["fainting"]
    assert detector.detect("كان عندي حرارة الأسبوع الماضي بس الحين تمام") == []


def test_a_portuguese_sentence_is_read_by_the_portuguese_patterns_only():
    languages = {
        "pt": {"_not_before": [r"\b(nao|se)\b"], "stroke": [r"\bavc\b"]},
        "fr": {"stroke": [r"\bavc\b"]},
    }
    detector = RedFlagDetector({}, languages=languages)
    assert detector.detect("meu pai ta tendo um avc") != []
    assert detector.detect("e se der avc?") == []  # the Portuguese cue negates it: French may not fire instead
    assert detector.detect("nao tenho avc nenhum, meu pai que teve") == []  # "nao", "meu": Portuguese only
    assert [f.category for f in detector.detect("je pense que c'est un avc")] == ["stroke"]


def test_arabizi_is_not_read_as_french():
    detector = RedFlagDetector({}, languages={"fr": {"breathing": [r"\bpneumothorax\b"]}})
    assert detector.detect("fi wa7ad saro 3ando pneumothorax?") == []
    assert detector.detect("j'ai un pneumothorax") != []


def test_a_negation_does_not_reach_past_a_new_clause(detector):
    assert [f.category for f in detector.detect("حسيت بدوخه وبعدين ما حسيت بشي وصحيت على الارض")] == ["fainting"]
    assert detector.detect("ما اغمي علي بس دخت شوي") == []
    assert [f.category for f in detector.detect("ما نمت طول الليل وصدري يوجعني")] == ["chest_pain"]
    assert detector.detect("صدري ما يوجعني، بس ظهري") == []


def test_figures_of_speech_are_not_a_crisis(detector):
    for text in (
        "to morrendo de rir",
        "vou morrer de vergonha kkk",
        "esse treino vai me matar",
        "بموت من الضحك",
        "ابي اموت من الضحك",
        "matar a saudade da praia",
        "ما ابي اعيش مع هالالم، الابر تفيد؟",
    ):
        assert detector.detect(text) == [], text
    for text in ("quero morrer", "quero sumir", "ما عاد ابي اعيش", "ابي اموت", "penso em me matar"):
        assert summary(detector.detect(text))[0], text


def test_an_arabic_letter_stretched_for_emphasis_counts_once():
    detector = RedFlagDetector({}, languages={"ar": {"breathing": [r"نفسي مقطوع"], "bleeding": [r"ينز{2,}ف"]}})
    assert [f.category for f in detector.detect("نفسي مقطووووووع")] == ["breathing"]
    # a pattern can still read the stretch itself as emphasis
    assert [f.category for f in detector.detect("ينززززف")] == ["bleeding"]
    assert detector.detect("ينزف") == []
