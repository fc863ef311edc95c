"""`python -m tools.bench_patches`: what each Rasa patch (rasa_addons/patches/) gains, measured.

Loads the trained model once (models/needlewise.tar.gz) into a Rasa Agent that calls the real
action server (started on a free port), with every patch applied as the launcher does (Rasa's
graph takes each component's function when it loads the model: classifier_weights reaches the
model only so, and does no more than Rasa's own while reverted), then plays patients'
conversations, six held-out questions each (tests/nlu/heldout.yml), through
`Agent.handle_message`: with every patch, with one session per patch. A session plays the same
conversations with three sets of patches: all, all again, and all but that one patch. In each
round every patient's conversation is played once with each set, the sets in a new shuffled order
for each patient, so a slower or faster spell of the shared machine hits all three alike. A first
round warms up and is not counted (it also fills the sentence encoder's cache, as the server's
channels do by encoding each message ahead on a worker thread, so the figures are the work the
patches touch).

The measure is CPU time per turn of both processes a turn runs in, the Rasa process and the
action server (the server's throughput on two cores is bounded by it); wall time is shown beside
it. A patch's gain is the median over rounds of (time per turn without it - time per turn with
all), paired within each round. It is within noise when it is not larger than the run-to-run
spread of such a paired difference: the spread (max - min over the session's rounds) of the
difference between the two identical all-patches runs. (The all-patches time itself drifts more
from round to round and session to session, with whatever else the shared machine runs; that
drift hits the three sets of a round alike.) `--together a b` also measures leaving several
patches out at once; `--none` all against none.

gc_freeze's purpose is shorter pauses, not less work per turn: it is judged by how long a full
collection takes with and without it (the wait of the turn that triggers one), against the
spread of those timings.

"Within noise" here is not a reason to drop a patch: the measure is one patient at a time. Five
patches (action_session, classifier_weights, feature_copy, classifier_rows, skip_listen_prediction)
were dropped on 2026-11-29 for it, and `make bench` then showed throughput halved at 50 patients
(205.6 turns/s at 10 patients with them, 102.6 without, side by side on the same machine); they
were restored the same day. Check `make bench` before dropping any. Two of them cannot show here on
their own: feature_copy is called only when classifier_rows is left out (`--together
classifier_rows feature_copy`), and action_session saves waits for new connections more than CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Tuple

from needlewise.settings import ROOT

MODEL = ROOT / "models" / "needlewise.tar.gz"
HELDOUT = ROOT / "tests" / "nlu" / "heldout.yml"
TURNS_PER_PATIENT = 6


def load(model: Path, actions_url: str) -> Any:
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    return Agent.load(str(model), action_endpoint=EndpointConfig(f"{actions_url}/webhook"))


def configure(agent: Any, enabled: FrozenSet[str]) -> None:
    """Exactly these patches in effect (cheap: run between two patients' conversations)."""
    from rasa_addons import patches

    for name in patches.PATCHES:
        if name in enabled:
            patches.module(name).apply()
        else:
            patches.module(name).revert()
    # what gc_freeze does once the server has loaded the model, less its collection first (done
    # once per round instead: collecting here would take longer than the conversation)
    if "gc_freeze" in enabled and not gc.get_freeze_count():
        gc.freeze()
    elif "gc_freeze" not in enabled:
        gc.unfreeze()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of another process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Runs = Dict[str, List[Tuple[float, float, float]]]


async def play_round(agent: Any, texts: List[str], sets: Dict[str, FrozenSet[str]], order: Any, pid: int) -> Runs:
    """One round: each patient's conversation (TURNS_PER_PATIENT texts) played once with every set of
    patches, the sets in a new order for each patient. Returns, per set, the time per turn in ms: CPU
    of the Rasa process and the action server together, CPU of the Rasa process, wall."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    totals = {label: [0.0, 0.0, 0.0] for label in sets}
    for first in range(0, len(texts), TURNS_PER_PATIENT):
        conversation = texts[first : first + TURNS_PER_PATIENT]
        for label in order(list(sets)):
            configure(agent, sets[label])
            sender = f"bench-{uuid.uuid4().hex}"
            actions, cpu, wall = cpu_seconds(pid), time.process_time(), time.perf_counter()
            for text in conversation:
                await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender))
            cpu, wall, actions = time.process_time() - cpu, time.perf_counter() - wall, cpu_seconds(pid) - actions
            for index, seconds in enumerate((cpu + actions, cpu, wall)):
                totals[label][index] += seconds
    return {label: [tuple(1000 * seconds / len(texts) for seconds in total)] for label, total in totals.items()}


def full_collection_ms(frozen: bool, repeats: int = 7) -> List[float]:
    """How long each of a few full collections takes with the loaded model, frozen or not."""
    from rasa_addons.patches import gc_freeze

    gc.unfreeze()
    gc.collect()
    if frozen:
        gc_freeze.freeze_loaded_objects()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        gc.collect()
        times.append(1000 * (time.perf_counter() - started))
    gc.unfreeze()
    return times


def measure(agent: Any, texts: List[str], rounds: int, seed: int, actions_pid: int, without: FrozenSet[str]) -> Runs:
    """One session: all patches, all patches again, and all but `without`, interleaved."""
    from rasa_addons import patches

    every = frozenset(patches.PATCHES)
    sets = {"all": every, "all, again": every, "without": every - without}
    runs: Runs = {label: [] for label in sets}
    shuffler = random.Random(seed)  # noqa: S311 - orders runs, not secrets

    def order(labels: List[str]) -> List[str]:
        shuffler.shuffle(labels)
        return labels

    store = getattr(agent.tracker_store, "_tracker_store", agent.tracker_store)  # in memory
    for number in range(rounds + 1):
        store.store.clear()
        gc.unfreeze()
        gc.collect()
        result = asyncio.run(play_round(agent, texts, sets, order, actions_pid))
        if number:  # round 0 warms up
            for label in sets:
                runs[label] += result[label]
    configure(agent, every)
    return runs


@dataclass
class Gain:
    """What leaving some patches out cost, per turn, in one session."""

    label: str
    all_ms: float  # CPU, Rasa process + action server, all patches (median over rounds)
    gains: List[float]  # CPU, paired per round: without - all
    rasa_gain: float  # of it, the Rasa process (median)
    wall_gain: float  # wall time (median)
    noise: List[float]  # CPU, paired per round: all again - all

    @classmethod
    def of(cls, label: str, runs: Runs) -> Gain:
        def paired(other: str, index: int) -> List[float]:
            return [a[index] - b[index] for a, b in zip(runs[other], runs["all"], strict=True)]

        return cls(
            label,
            statistics.median(run[0] for run in runs["all"]),
            paired("without", 0),
            statistics.median(paired("without", 1)),
            statistics.median(paired("without", 2)),
            paired("all, again", 0),
        )

    @property
    def gain(self) -> float:
        return statistics.median(self.gains)

    @property
    def spread(self) -> float:
        return max(self.noise) - min(self.noise)

    @property
    def beyond_noise(self) -> bool:
        return self.gain > self.spread

    def row(self, verdict: str = "") -> str:
        verdict = verdict or ("kept" if self.beyond_noise else "within noise")
        return (
            f"| {self.label} | {self.gain:+.2f} ({min(self.gains):+.2f}..{max(self.gains):+.2f}) "
            f"| {100 * self.gain / self.all_ms:+.0f} % | {self.rasa_gain:+.2f} | {self.wall_gain:+.2f} "
            f"| {self.spread:.2f} ({min(self.noise):+.2f}..{max(self.noise):+.2f}) | {self.all_ms:.2f} | {verdict} |"
        )


HEADER = [
    "| left out | gain, CPU ms per turn (min..max over rounds) | gain, % | of it, Rasa process | gain, wall ms "
    "| noise: all vs all again, spread (min..max) | all patches, CPU ms per turn | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
]


def gc_verdict(result: Gain, pauses: Dict[bool, List[float]]) -> Tuple[bool, str]:
    """gc_freeze is judged by its purpose: the pause of a full collection."""
    before, after = statistics.median(pauses[False]), statistics.median(pauses[True])
    noise = max(max(times) - min(times) for times in pauses.values())
    kept = before - after > noise
    return kept, (
        f"{'kept' if kept else 'within noise'}: a full collection {before:.0f} ms -> {after:.1f} ms (spread "
        f"{noise:.1f} ms); per turn {'beyond' if result.beyond_noise else 'within'} noise"
    )


def main(argv: Any = None) -> int:
    from rasa_addons import patches

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--patients", type=int, default=60, help="conversations of six questions per run")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--patches", nargs="*", default=list(patches.PATCHES), help="measure these (default: all)")
    parser.add_argument("--none", action="store_true", help="also measure all patches against none")
    parser.add_argument("--together", nargs="*", default=[], help="also measure leaving these patches out together")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore")
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)

    from servers.stack import Stack, StackConfig
    from tools.evaluate import load_examples

    sessions = [(name, frozenset({name})) for name in args.patches]
    if args.together:
        sessions.append((" + ".join(args.together), frozenset(args.together)))
    if args.none:
        sessions.append(("every patch", frozenset(patches.PATCHES)))
    texts = [text for text, _ in load_examples(HELDOUT)]
    random.Random(args.seed).shuffle(texts)  # noqa: S311 - picks questions, not secrets
    texts = (texts * (1 + args.patients * TURNS_PER_PATIENT // len(texts)))[: args.patients * TURNS_PER_PATIENT]
    results: List[Gain] = []
    with tempfile.TemporaryDirectory(prefix="needlewise-bench-patches-") as folder:
        config = StackConfig.free(model=args.model, log_dir=Path(folder))
        stack = Stack(config)
        try:
            stack.start(["actions"])
            stack.wait_ready(["actions"])
            patches.apply_all()  # before the model loads, as the launcher does; configure() sets each set
            agent = load(args.model, config.actions_url)
            print(f"{len(texts)} turns per set and round, {args.rounds} rounds per session", file=sys.stderr)
            for label, without in sessions:
                runs = measure(agent, texts, args.rounds, args.seed, stack.processes["actions"].pid, without)
                results.append(Gain.of(label, runs))
                print(f"  {results[-1].row()}", file=sys.stderr)
            pauses = {False: full_collection_ms(frozen=False), True: full_collection_ms(frozen=True)}
        finally:
            stack.stop()
    print(
        f"Each patch left out of all (python -m tools.bench_patches, {len(texts)} turns per set and round, "
        f"{args.rounds} rounds); CPU time per turn of the Rasa process and the action server:\n"
    )
    print("\n".join(HEADER))
    for result in results:
        print(result.row(gc_verdict(result, pauses)[1] if result.label == "gc_freeze" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
