"""`make eval`: measures the trained model on the held-out sets, one per language.

`tests/nlu/heldout.yml` (English), `heldout_pt.yml` (Brazilian Portuguese) and `heldout_ar.yml`
(Arabic) are written separately from the training data and never trained on. Each example runs
through the whole NLU pipeline (classifier, fallback and the red-flag layer), and is scored by what
the patient would get: the reply kind, for questions the topic, and the language the reply would be
written in (needlewise/language.py's choice for a first message with no hint from the page).

The model runs with the same Rasa patches as the server (rasa_addons/patches/).

Writes `results/eval/report.json` and `report.md` for English, `results/eval/pt/` and
`results/eval/ar/` for the others (per-intent precision and recall, and every confusion), and
exits 1 if any language misses a threshold of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from needlewise.dialogue import kind_of
from needlewise.knowledge import load_topic_spec
from needlewise.settings import ROOT

HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
#: Every held-out set: the English one, and `heldout_<language>.yml` for each other language.
HELDOUT_SETS = sorted((ROOT / "tests" / "nlu").glob("heldout*.yml"))
MODEL = ROOT / "models" / "needlewise.tar.gz"
OUT = ROOT / "results" / "eval"

#: The thresholds `make test` holds the model to.
THRESHOLDS = {
    "topic_accuracy": 0.92,
    "urgent_recall": 1.00,
    "urgent_false_alarm_rate_max": 0.01,
    "out_of_scope_recall": 0.90,
    "referral_recall": 0.85,
    "handoff_recall": 0.85,
    "other_language_recall": 0.90,
    "reply_language_accuracy": 0.95,
}
#: The thresholds of a translated language (set before its first measurement, issue 17): its held-out
#: set has no `other_language` examples (it is not another language there).
TRANSLATED_THRESHOLDS = {
    "topic_accuracy": 0.85,
    "urgent_recall": 1.00,
    "urgent_false_alarm_rate_max": 0.01,
    "out_of_scope_recall": 0.85,
    "referral_recall": 0.80,
    "handoff_recall": 0.85,
    "reply_language_accuracy": 0.90,
}


def language_of(heldout: Path) -> str:
    """`heldout_pt.yml` -> `pt`; `heldout.yml` -> `en`."""
    stem = Path(heldout).stem
    return stem.split("_", 1)[1] if "_" in stem else "en"


def thresholds_of(lang: str) -> Dict[str, float]:
    return THRESHOLDS if lang == "en" else TRANSLATED_THRESHOLDS


#: The recall measures: (metric, the intent whose examples it counts, its name in the report).
RECALLS = [
    ("urgent_recall", "urgent", "urgent recall"),
    ("out_of_scope_recall", "out_of_scope", "out-of-scope recall"),
    ("referral_recall", "personal_decision", "referral to clinician"),
    ("handoff_recall", "ask_human", "handoff to a person"),
    ("other_language_recall", "other_language", "message in another language"),
]


def normalised(text: str) -> str:
    """How the leak test compares examples: spelling-neutral as the model reads words (accents, Arabic
    diacritics, hamza marks and letter variants folded: `needlewise.glossary.normalised_word`), lower
    case, punctuation dropped, spacing folded."""
    from needlewise.glossary import normalised_word

    return " ".join("".join(c for c in normalised_word(text) if c.isalnum() or c.isspace()).split())


def load_examples(path: Path) -> List[Tuple[str, str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


@dataclass
class Result:
    text: str
    expected: str
    predicted: str
    confidence: float
    #: the primary language the reply is (or would be) written in
    lang: str = ""


def reply_language(text: str) -> str:
    """The language the bot answers a first message in when the page gives no hint (needlewise/language.py)."""
    from needlewise import language

    served = ["en", *(language_of(path) for path in HELDOUT_SETS if language_of(path) != "en")]
    return language.reply_language(text, served)


#: In a single-turn REST check, what each reply kind says the bot understood (topics: their id).
KIND_INTENTS = {
    "urgent": "urgent",
    "refer_clinician": "personal_decision",
    "out_of_scope": "out_of_scope",
    "handoff": "ask_human",
    "greeting": "greet",
    "goodbye": "goodbye",
    "menu": "ask_capabilities",
    "chitchat": "chitchat",
    "fallback": "nlu_fallback",
}
#: Intents a single REST turn cannot tell apart, and the one name both get there.
REST_SAME = {"thank": "chitchat", "bot_challenge": "chitchat"}
#: Intents whose reply depends on an earlier turn: not asked in a single-turn REST check.
REST_SKIP = {"followup_duration", "followup_safety", "followup_more", "feedback_helpful", "feedback_not_helpful"}


def intent_of_reply(custom: dict) -> str:
    """What the bot understood, read from the reply contract's `custom` object."""
    kind = custom.get("kind")
    if kind == "answer":
        return custom.get("topic") or "nlu_fallback"
    if kind == "fallback" and custom.get("reason") == "other_language":
        return "other_language"
    return KIND_INTENTS.get(kind, str(kind))


async def predict_rest(rasa_url: str, examples: List[Tuple[str, str]], concurrency: int = 4) -> List[Result]:
    """Each example as the first message of a new conversation, through the REST channel."""
    import uuid

    import aiohttp

    asked = [(text, REST_SAME.get(intent, intent)) for text, intent in examples if intent not in REST_SKIP]
    results: List[Result] = [None] * len(asked)  # type: ignore[list-item]
    queue: asyncio.Queue = asyncio.Queue()
    for index in range(len(asked)):
        queue.put_nowait(index)

    async def worker(session) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            text, expected = asked[index]
            body = {"sender": f"eval-{uuid.uuid4().hex}", "message": text}
            async with session.post(f"{rasa_url}/webhooks/rest/webhook", json=body) as response:
                messages = await response.json(content_type=None)
            customs = [m["custom"] for m in messages if isinstance(m, dict) and "custom" in m]
            predicted = intent_of_reply(customs[0]) if len(customs) == 1 else f"broken reply ({response.status})"
            spoken = str(customs[0].get("lang") or "").split("-")[0] if len(customs) == 1 else ""
            results[index] = Result(text, expected, predicted, 1.0, spoken)

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return results


def predict_through_rest(model: Path, sets: Dict[str, List[Tuple[str, str]]]) -> Dict[str, List[Result]]:
    """Starts the real servers (Rasa, action server, web) on free ports and asks them every set's questions."""
    from servers.stack import Stack, StackConfig
    from tools.load import LOAD_ENV

    with tempfile.TemporaryDirectory(prefix="needlewise-eval-") as folder:
        config = StackConfig.free(
            model=model, extra_env={**LOAD_ENV, "TRACKER_STORE_URL": f"sqlite:///{Path(folder) / 'eval.db'}"}
        )
        with Stack(config):
            return {lang: asyncio.run(predict_rest(config.rasa_url, examples)) for lang, examples in sets.items()}


async def predict(model: Path, sets: Dict[str, List[Tuple[str, str]]]) -> Dict[str, List[Result]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    found: Dict[str, List[Result]] = {}
    for lang, examples in sets.items():
        results = found[lang] = []
        for text, expected in examples:
            parsed = await agent.parse_message(text)
            intent = parsed.get("intent") or {}
            name, confidence = intent.get("name") or "nlu_fallback", float(intent.get("confidence") or 0)
            results.append(Result(text, expected, name, confidence, reply_language(text)))
    return found


def answered_elsewhere(results: List[Result], lang: str) -> Tuple[List[Result], List[str]]:
    """Leaves out of a set's scores its `other_language` examples written in a language the bot now
    answers in (the English set's Portuguese and Arabic ones, written when only English was answered):
    their own language's held-out set measures those. Returns (kept, texts left out)."""
    served = {language_of(path) for path in HELDOUT_SETS} - {lang, "en"}
    kept = [r for r in results if not (r.expected == "other_language" and r.lang in served)]
    return kept, [r.text for r in results if r not in kept]


def score(results: List[Result], topics: Dict[str, str], lang: str = "en") -> dict:
    thresholds = thresholds_of(lang)
    topic_cases = [r for r in results if r.expected in topics]
    calm_cases = [r for r in results if r.expected != "urgent"]
    kind_right = sum(kind_of(r.predicted, topics) == kind_of(r.expected, topics) for r in results)

    def ratio(hits: int, total: int) -> float:
        return round(hits / total, 4) if total else 0.0

    intents = sorted({r.expected for r in results} | {r.predicted for r in results})
    per_intent = {}
    for intent in intents:
        tp = sum(r.expected == intent and r.predicted == intent for r in results)
        predicted = sum(r.predicted == intent for r in results)
        actual = sum(r.expected == intent for r in results)
        per_intent[intent] = {
            "precision": ratio(tp, predicted),
            "recall": ratio(tp, actual),
            "support": actual,
        }
    confusions = collections.Counter((r.expected, r.predicted) for r in results if r.expected != r.predicted)
    metrics = {
        "examples": len(results),
        "topic_accuracy": ratio(sum(r.predicted == r.expected for r in topic_cases), len(topic_cases)),
        "urgent_false_alarm_rate": ratio(sum(r.predicted == "urgent" for r in calm_cases), len(calm_cases)),
        "kind_accuracy": ratio(kind_right, len(results)),
        "intent_accuracy": ratio(sum(r.predicted == r.expected for r in results), len(results)),
        "reply_language_accuracy": ratio(sum(r.lang == lang for r in results), len(results)),
    }
    for metric, intent, _ in RECALLS:
        cases = [r for r in results if r.expected == intent]
        if cases or metric in thresholds:
            metrics[metric] = ratio(sum(r.predicted == intent for r in cases), len(cases))
    failures = []
    for name in ("topic_accuracy", "reply_language_accuracy", *(metric for metric, _, _ in RECALLS)):
        if name in thresholds and metrics[name] < thresholds[name]:
            failures.append(f"{lang}: {name} {metrics[name]:.3f} is below {thresholds[name]:.2f}")
    if metrics["urgent_false_alarm_rate"] > thresholds["urgent_false_alarm_rate_max"]:
        failures.append(
            f"{lang}: urgent_false_alarm_rate {metrics['urgent_false_alarm_rate']:.3f} is above "
            f"{thresholds['urgent_false_alarm_rate_max']:.2f}"
        )
    return {
        "language": lang,
        "metrics": metrics,
        "thresholds": thresholds,
        "failures": failures,
        "per_intent": per_intent,
        "confusions": [{"expected": e, "predicted": p, "count": n} for (e, p), n in confusions.most_common()],
        "errors": [r.__dict__ for r in results if r.expected != r.predicted],
    }


def write_report(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    m, limits = report["metrics"], report["thresholds"]
    lines = [
        f"# Held-out NLU evaluation ({report['language']})",
        "",
        f"Examples: {m['examples']}"
        + (
            f" ({len(report['left_out'])} more left out: labelled another language, written in one answered now)"
            if report.get("left_out")
            else ""
        ),
        "",
        "| measure | value | threshold |",
        "| --- | --- | --- |",
        f"| topic accuracy | {m['topic_accuracy']:.3f} | >= {limits['topic_accuracy']:.2f} |",
        f"| urgent false alarms | {m['urgent_false_alarm_rate']:.3f} "
        f"| <= {limits['urgent_false_alarm_rate_max']:.2f} |",
        *(
            f"| {label} | {m[metric]:.3f} | >= {limits[metric]:.2f} |"
            for metric, _, label in RECALLS
            if metric in limits
        ),
        f"| reply in the message's language | {m['reply_language_accuracy']:.3f} "
        f"| >= {limits['reply_language_accuracy']:.2f} |",
        f"| reply-kind accuracy | {m['kind_accuracy']:.3f} | |",
        f"| intent accuracy | {m['intent_accuracy']:.3f} | |",
        "",
        "## Per intent",
        "",
        "| intent | precision | recall | support |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {name} | {v['precision']:.2f} | {v['recall']:.2f} | {v['support']} |"
        for name, v in report["per_intent"].items()
    ]
    lines += ["", "## Confusions (expected -> predicted)", ""]
    lines += [f"- {e['expected']} -> {e['predicted']}: {e['count']}" for e in report["confusions"]]
    lines += ["", "## Errors", ""]
    lines += [
        f"- `{e['expected']}` -> `{e['predicted']}` ({e['confidence']:.2f}): {e['text']}" for e in report["errors"]
    ]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def gates(failure: str, languages: Optional[Sequence[str]], report_only: Sequence[str]) -> bool:
    """Whether a failure ("ar: out_of_scope_recall 0.833 is below 0.85") fails the run: its language is
    gated (every language when `languages` is None) and its measure is not one reported only."""
    lang, _, rest = failure.partition(":")
    measure = rest.split()[0] if rest.split() else ""
    return (languages is None or lang in languages) and f"{lang}:{measure}" not in report_only


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--heldout", type=Path, nargs="+", default=HELDOUT_SETS, help="held-out sets (default: all)")
    parser.add_argument(
        "--gate",
        nargs="*",
        default=None,
        help="the languages whose thresholds fail the run (default: every one measured); the others are reported",
    )
    parser.add_argument(
        "--report-only",
        nargs="*",
        default=[],
        metavar="LANG:MEASURE",
        help="measures of a gated language that are reported but do not fail the run (ar:out_of_scope_recall)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--rest",
        action="store_true",
        help="ask the real servers through the REST channel (one new conversation per example) "
        "and score the replies' kind and topic, instead of parsing with the model alone",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # no per-message debug lines: they would print patients' words
    topics = load_topic_spec()
    sets = {language_of(path): load_examples(path) for path in args.heldout}
    if args.rest:  # the real servers, patched by their launcher (rasa_addons/serve.py)
        found = predict_through_rest(args.model, sets)
    else:
        from rasa_addons import patches

        patches.apply_all()  # the Rasa the server runs (rasa_addons/patches/)
        found = asyncio.run(predict(args.model, sets))
    failures = []
    for lang, results in found.items():
        results, left_out = answered_elsewhere(results, lang)
        report = score(results, topics, lang)
        report["left_out"] = left_out
        out = args.out if lang == "en" else args.out / lang
        write_report(report, out)
        m = report["metrics"]
        print(
            f"Held-out evaluation ({lang}) of {m['examples']} examples: topic accuracy {m['topic_accuracy']:.3f}, "
            f"urgent false alarms {m['urgent_false_alarm_rate']:.3f}, "
            + ", ".join(f"{label} {m[metric]:.3f}" for metric, _, label in RECALLS if metric in m)
            + f", reply-kind accuracy {m['kind_accuracy']:.3f}, reply language {m['reply_language_accuracy']:.3f}"
        )
        print(f"Report: {out / 'report.md'}")
        failures += report["failures"]
    gated = [f for f in failures if gates(f, args.gate, args.report_only)]
    if failures != gated:
        print("Below the thresholds, reported only:", *(f for f in failures if f not in gated), sep="\n  - ")
    if gated:
        print("Below the thresholds:", *gated, sep="\n  - ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
