"""`make language-models`: one model for every language, or one model per language? Measured on
the training data only (data/nlu/ for English, data/nlu/pt/, data/nlu/ar/), never the held-out sets.

A quarter of each language's examples (each intent's, dealt with a fixed seed: tools/tune_fallback.py's
`folds`) is held back as that language's development split. Then the NLU pipeline of config.yml
(without the fallback and the red-flag layer, so the raw top intent is scored) is trained

- once on the other three quarters of every language together (one model, the same intents), and
- once per language on that language's three quarters alone (one model per language),

and each development split is asked of both. Writes results/language_models.json and prints a table:
right intent, and right topic for topic questions, per language and per choice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from needlewise.knowledge import load_topic_spec
from needlewise.settings import ROOT
from tools.evaluate import load_examples
from tools.tune_fallback import folds, without_fallback, write_nlu

Example = Tuple[str, str]


def examples_by_language(data: Path) -> Dict[str, List[Example]]:
    """English from the files directly in `data`, every other language from its own sub-folder."""
    found: Dict[str, List[Example]] = {"en": []}
    for path in sorted(data.glob("*.yml")):
        found["en"] += load_examples(path)
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        found[folder.name] = [e for path in sorted(folder.glob("*.yml")) for e in load_examples(path)]
    return {lang: examples for lang, examples in found.items() if examples}


def split(examples: Sequence[Example], seed: int) -> Tuple[List[Example], List[Example]]:
    """(training three quarters, development quarter), stratified by intent."""
    parts = folds(examples, 4, seed)
    return [e for part in parts[1:] for e in part], parts[0]


def scores(agent, examples: Sequence[Example], topics: Dict[str, str]) -> Dict[str, float]:
    right = topic_right = topic_cases = 0
    for text, intent in examples:
        parsed = asyncio.run(agent.parse_message(text))
        predicted = (parsed.get("intent") or {}).get("name")
        right += predicted == intent
        if intent in topics:
            topic_cases += 1
            topic_right += predicted == intent
    return {
        "examples": len(examples),
        "intent_accuracy": round(right / len(examples), 4),
        "topic_accuracy": round(topic_right / topic_cases, 4) if topic_cases else 0.0,
    }


def train(config: Path, examples: Sequence[Example], work: Path, name: str):
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    write_nlu(examples, work / f"{name}.yml")
    started = time.perf_counter()
    model = train_nlu(str(config), str(work / f"{name}.yml"), str(work), fixed_model_name=name)
    seconds = time.perf_counter() - started
    return Agent.load(model), round(seconds, 1), Path(model).stat().st_size


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "language_models.json")
    parser.add_argument("--one-model-only", action="store_true", help="skip the models per language")
    args = parser.parse_args(argv)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(30)
    topics = load_topic_spec()
    languages = examples_by_language(args.data)
    splits = {lang: split(examples, args.seed) for lang, examples in languages.items()}
    report: Dict[str, Dict] = {"one_model": {}, "model_per_language": {}}
    with tempfile.TemporaryDirectory(prefix="needlewise-languages-") as folder:
        work = Path(folder)
        config = without_fallback(args.config, work / "config.yml")
        together = [e for train_part, _ in splits.values() for e in train_part]
        print(f"one model: training on {len(together)} examples", file=sys.stderr, flush=True)
        agent, seconds, size = train(config, together, work, "all")
        report["one_model"]["training_seconds"], report["one_model"]["model_bytes"] = seconds, size
        for lang, (_, dev) in splits.items():
            report["one_model"][lang] = scores(agent, dev, topics)
        for lang, (train_part, dev) in splits.items():
            if args.one_model_only:
                break
            print(f"{lang} alone: training on {len(train_part)} examples", file=sys.stderr, flush=True)
            agent, seconds, size = train(config, train_part, work, lang)
            report["model_per_language"][lang] = {
                **scores(agent, dev, topics),
                "training_seconds": seconds,
                "model_bytes": size,
            }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("| language | development examples | one model: intent / topic | its own model: intent / topic |")
    print("| --- | --- | --- | --- |")
    for lang in splits:
        one, own = report["one_model"][lang], report["model_per_language"].get(lang)
        if own is None:
            print(f"| {lang} | {one['examples']} | {one['intent_accuracy']:.3f} / {one['topic_accuracy']:.3f} | |")
            continue
        print(
            f"| {lang} | {one['examples']} | {one['intent_accuracy']:.3f} / {one['topic_accuracy']:.3f} "
            f"| {own['intent_accuracy']:.3f} / {own['topic_accuracy']:.3f} |"
        )
    print(f"Report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
