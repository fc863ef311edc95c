"""`make tune-fallback`: chooses the FallbackClassifier thresholds by cross-validation on the
training data (data/nlu/), never on the held-out set.

The training examples are split into folds (stratified by intent, fixed seed). For each fold the
NLU pipeline of config.yml is trained on the other folds and asked about this one. Each answer
is then replayed under every candidate threshold pair: the bot falls back ("I'm not sure, did
you mean ...?" with the closest topics) when the top confidence is below `threshold` or within
`ambiguity_threshold` of the second. Each pair is scored by its rate of wrong answers (answered,
wrong topic) and of needless fallbacks (fell back, though the top guess was right); the cost
weighs a wrong answer `--wrong-cost` times a needless fallback (default 1: a fallback offers the
closest topics as buttons, a wrong answer offers related topics and "Was this helpful?"; both
cost the patient about one tap). Red flags are not involved: the red-flag layer overrides the
classifier either way.

Writes results/tune_fallback.json and prints the trade-off curve, the cheapest pair and the
configured one. It changes nothing: the threshold is the clinic's choice (config.yml).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import yaml

from needlewise.settings import ROOT
from tools.evaluate import load_examples

THRESHOLDS = [round(0.20 + 0.05 * i, 2) for i in range(11)]  # 0.20 .. 0.70
AMBIGUITIES = [0.0, 0.02, 0.05, 0.08, 0.1]

#: One out-of-fold answer: the true intent and the classifier's ranking (name, confidence).
Answer = Tuple[str, List[Tuple[str, float]]]


def folds(examples: Sequence[Tuple[str, str]], k: int, seed: int) -> List[List[Tuple[str, str]]]:
    """k folds, each intent's examples dealt round the folds in a shuffled order."""
    by_intent: Dict[str, List[Tuple[str, str]]] = defaultdict(list)
    for example in examples:
        by_intent[example[1]].append(example)
    rng = random.Random(seed)  # noqa: S311 - shuffles examples, not secrets
    out: List[List[Tuple[str, str]]] = [[] for _ in range(k)]
    position = 0
    for intent in sorted(by_intent):
        items = by_intent[intent][:]
        rng.shuffle(items)
        for item in items:
            out[position % k].append(item)
            position += 1
    return out


def write_nlu(examples: Sequence[Tuple[str, str]], path: Path) -> None:
    by_intent: Dict[str, List[str]] = defaultdict(list)
    for text, intent in examples:
        by_intent[intent].append(text)
    document = {
        "version": "3.1",
        "nlu": [
            {"intent": intent, "examples": "".join(f"- {json.dumps(t, ensure_ascii=False)}\n" for t in texts)}
            for intent, texts in sorted(by_intent.items())
        ],
    }
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def without_fallback(config: Path, out: Path) -> Path:
    """config.yml with the FallbackClassifier and the red-flag layer taken out: the raw ranking."""
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    dropped = ("FallbackClassifier", "rasa_addons.components.RedFlagOverride")
    document["pipeline"] = [c for c in document["pipeline"] if c["name"] not in dropped]
    out.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return out


def cross_validate(config: Path, data_dir: Path, k: int, seed: int) -> List[Answer]:
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    examples = load_examples(data_dir)
    parts = folds(examples, k, seed)
    answers: List[Answer] = []
    with tempfile.TemporaryDirectory(prefix="needlewise-cv-") as folder:
        work = Path(folder)
        raw_config = without_fallback(config, work / "config.yml")
        for index, held in enumerate(parts):
            train = [e for j, part in enumerate(parts) if j != index for e in part]
            write_nlu(train, work / f"train-{index}.yml")
            print(f"  fold {index + 1}/{k}: training on {len(train)}, asking {len(held)}", file=sys.stderr, flush=True)
            model = train_nlu(
                str(raw_config), str(work / f"train-{index}.yml"), str(work), fixed_model_name=f"fold-{index}"
            )
            agent = Agent.load(model)
            for text, intent in held:
                parsed = asyncio.run(agent.parse_message(text))
                ranking = [(r["name"], float(r["confidence"])) for r in parsed.get("intent_ranking") or []]
                answers.append((intent, ranking))
    return answers


def cost(answers: Sequence[Answer], threshold: float, ambiguity: float, wrong_cost: float = 1.0) -> Dict[str, float]:
    wrong = needless = fallbacks = 0
    for intent, ranking in answers:
        top, confidence = ranking[0]
        second = ranking[1][1] if len(ranking) > 1 else 0.0
        falls_back = confidence < threshold or confidence - second < ambiguity
        if falls_back:
            fallbacks += 1
            needless += top == intent
        else:
            wrong += top != intent
    n = len(answers)
    return {
        "threshold": threshold,
        "ambiguity_threshold": ambiguity,
        "wrong_answer_rate": round(wrong / n, 4),
        "needless_fallback_rate": round(needless / n, 4),
        "fallback_rate": round(fallbacks / n, 4),
        "cost": round((wrong_cost * wrong + needless) / n, 4),
    }


def configured(config: Path) -> Tuple[float, float]:
    for component in yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component["threshold"]), float(component.get("ambiguity_threshold", 0.1))
    raise SystemExit("config.yml has no FallbackClassifier")


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "nlu")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--wrong-cost", type=float, default=1.0, help="a wrong answer costs this many fallbacks")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "tune_fallback.json")
    args = parser.parse_args(argv)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(30)
    answers = cross_validate(args.config, args.data, args.folds, args.seed)
    threshold, ambiguity = configured(args.config)
    rows = [cost(answers, t, a, args.wrong_cost) for t in THRESHOLDS for a in AMBIGUITIES]
    best = min(rows, key=lambda r: (r["cost"], r["fallback_rate"]))
    current = cost(answers, threshold, ambiguity, args.wrong_cost)
    curve = [cost(answers, t, ambiguity, args.wrong_cost) for t in THRESHOLDS]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"examples": len(answers), "folds": args.folds, "wrong_cost": args.wrong_cost}
    report.update({"configured": current, "cheapest": best, "curve": curve, "all": rows})
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")

    print(f"{len(answers)} training examples, {args.folds}-fold cross-validation, a wrong answer = {args.wrong_cost:g}")
    print(f"fallbacks; the curve at ambiguity_threshold {ambiguity}:")
    print("| threshold | wrong answers | needless fallbacks | all fallbacks | cost |")
    print("| --- | --- | --- | --- | --- |")
    for row in curve:
        print(
            f"| {row['threshold']} | {row['wrong_answer_rate']:.1%} | {row['needless_fallback_rate']:.1%} "
            f"| {row['fallback_rate']:.1%} | {row['cost']} |"
        )
    print(f"Cheapest: threshold {best['threshold']}, ambiguity {best['ambiguity_threshold']}, cost {best['cost']}.")
    print(f"Configured: threshold {threshold}, ambiguity {ambiguity}, cost {current['cost']}.")
    print(f"Report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
