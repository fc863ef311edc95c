"""`make soak`: 10,000 turns from 50 concurrent patients against the real servers.

Passes when there are no errors, no conversation lost or crossed (each patient's stored
conversation holds exactly the turns that patient sent, in order), and the servers' memory
grows by less than 10 %. Writes `results/soak.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

from needlewise.inputs import prepare
from needlewise.settings import ROOT
from servers.stack import Stack, StackConfig
from tools.load import LOAD_ENV, memory_mb, run_load

MAX_GROWTH = 0.10
WARM_UP_TURNS = 2000


def stored_turns(database: Path) -> dict:
    """sender -> the user texts stored for it, in order."""
    turns: dict = {}
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT sender_id, data FROM events WHERE type_name = 'user' ORDER BY id")
        for sender, data in rows:
            turns.setdefault(sender, []).append(json.loads(data).get("text"))
    return turns


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "soak.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="needlewise-soak-") as folder:
        return soak(args, Path(folder) / "conversations.db")


def soak(args: argparse.Namespace, database: Path) -> int:
    config = StackConfig.free(extra_env={**LOAD_ENV, "TRACKER_STORE_URL": f"sqlite:///{database}"})
    print(f"Soak: {args.turns} turns from {args.patients} concurrent patients", flush=True)
    with Stack(config) as stack:
        # warm up until caches and allocator pools are filled, so growth measures leaks, not start-up
        asyncio.run(run_load(config.rasa_url, args.patients, turns=WARM_UP_TURNS, progress=False))
        before = memory_mb(stack, ("rasa", "actions"))
        first = asyncio.run(run_load(config.rasa_url, args.patients, turns=args.turns // 2, record_conversations=True))
        middle = memory_mb(stack, ("rasa", "actions"))
        second = asyncio.run(
            run_load(
                config.rasa_url,
                args.patients,
                turns=args.turns - args.turns // 2,
                record_conversations=True,
                seed=7,
            )
        )
        after = memory_mb(stack, ("rasa", "actions"))
    result = first
    result.latencies_ms += second.latencies_ms
    result.errors += second.errors
    result.error_samples += second.error_samples
    result.seconds += second.seconds
    result.conversations.update(second.conversations)
    stored = stored_turns(database)
    lost_or_crossed = [
        sender
        for sender, sent in result.conversations.items()
        if stored.get(sender, []) != [prepare(text).text for text in sent]
    ]
    growth = {name: round((after[name] - before[name]) / before[name], 4) for name in before}
    report = {
        "load": result.summary(),
        "conversations": len(result.conversations),
        "lost_or_crossed_conversations": len(lost_or_crossed),
        "examples_lost_or_crossed": lost_or_crossed[:5],
        "warm_up_turns": WARM_UP_TURNS,
        "memory_mb_before": before,
        "memory_mb_middle": middle,
        "memory_mb_after": after,
        "memory_growth": growth,
    }
    failures = []
    if result.errors:
        failures.append(f"{result.errors} errors")
    if lost_or_crossed:
        failures.append(f"{len(lost_or_crossed)} conversations lost or crossed")
    if any(g >= MAX_GROWTH for g in growth.values()):
        failures.append(f"memory grew by {max(growth.values()):.1%}")
    report["failures"] = failures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    summary = result.summary()
    print(
        f"{summary['turns']} turns in {summary['seconds']} s ({summary['throughput_per_s']}/s), "
        f"{summary['errors']} errors, p95 {summary['p95_ms']} ms; {len(result.conversations)} conversations, "
        f"{len(lost_or_crossed)} lost or crossed; memory {before} -> {after} MB. Report: {args.out}"
    )
    if failures:
        print("Soak FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("Soak passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
