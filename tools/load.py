"""Simulated patients for `make bench` and `make soak`: closed loops over Rasa's REST channel.

Each patient slot holds a short conversation (its own sender id, a few questions from the
held-out set), waits for every reply before asking the next, then starts a new conversation.
Traffic goes only to the servers this run started on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import aiohttp

from needlewise.replies import KINDS
from tools.evaluate import HELDOUT, load_examples

TURNS_PER_CONVERSATION = 6
#: All simulated patients share 127.0.0.1, so the per-address and per-sender limits are off here.
LOAD_ENV = {"RATE_LIMIT_PER_CLIENT": "0", "RATE_LIMIT_PER_SENDER": "0"}


def questions() -> List[str]:
    """The held-out questions patients ask (topic questions and everything else)."""
    return [text for text, _ in load_examples(HELDOUT)]


@dataclass
class LoadResult:
    concurrency: int
    latencies_ms: List[float] = field(default_factory=list)
    errors: int = 0
    error_samples: List[str] = field(default_factory=list)
    seconds: float = 0.0
    conversations: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def turns(self) -> int:
        return len(self.latencies_ms) + self.errors

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    def summary(self) -> dict:
        return {
            "concurrency": self.concurrency,
            "turns": self.turns,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "throughput_per_s": round(self.turns / self.seconds, 2) if self.seconds else 0.0,
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "p99_ms": round(self.percentile(99), 1),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else None,
            "error_samples": self.error_samples[:5],
        }


def contract_problem(status: int, body: object) -> Optional[str]:
    if status != 200:
        return f"HTTP {status}"
    if not isinstance(body, list):
        return "not a list"
    customs = [m.get("custom") for m in body if isinstance(m, dict) and isinstance(m.get("custom"), dict)]
    if len(customs) != 1 or customs[0].get("kind") not in KINDS:
        return f"{len(customs)} custom objects"
    return None


async def run_load(
    rasa_url: str,
    concurrency: int,
    *,
    turns: Optional[int] = None,
    seconds: Optional[float] = None,
    seed: int = 2026,
    progress: bool = True,
    record_conversations: bool = False,
) -> LoadResult:
    """Drives `concurrency` patients until `turns` turns or `seconds` have passed."""
    texts = questions()
    result = LoadResult(concurrency)
    url = f"{rasa_url}/webhooks/rest/webhook"
    started = time.monotonic()
    budget = {"left": turns if turns is not None else 10**12}
    deadline = started + seconds if seconds else None

    async def patient(slot: int, session: aiohttp.ClientSession) -> None:
        rng = random.Random(seed + slot)  # noqa: S311 - picks questions, not secrets
        while True:
            sender = f"load-{slot}-{uuid.uuid4().hex[:12]}"
            sent: List[str] = []
            for _ in range(TURNS_PER_CONVERSATION):
                if budget["left"] <= 0 or (deadline and time.monotonic() >= deadline):
                    return
                budget["left"] -= 1
                text = rng.choice(texts)
                begin = time.perf_counter()
                try:
                    async with session.post(url, json={"sender": sender, "message": text}) as response:
                        body = await response.json(content_type=None)
                        problem = contract_problem(response.status, body)
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                    problem = type(error).__name__
                if problem:
                    result.errors += 1
                    result.error_samples.append(problem)
                else:
                    result.latencies_ms.append((time.perf_counter() - begin) * 1000)
                    sent.append(text)
                if record_conversations:
                    result.conversations[sender] = sent

    async def report() -> None:
        while True:
            await asyncio.sleep(2)
            done = result.turns
            elapsed = time.monotonic() - started
            sys.stderr.write(
                f"\r  {concurrency:>3} patients: {done} turns, {done / elapsed:6.1f}/s, {result.errors} errors   "
            )
            sys.stderr.flush()

    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        reporter = asyncio.create_task(report()) if progress else None
        await asyncio.gather(*(patient(slot, session) for slot in range(concurrency)))
        if reporter:
            reporter.cancel()
    result.seconds = time.monotonic() - started
    if progress:
        sys.stderr.write("\n")
    return result


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children, in MB (from /proc)."""
    total, stack = 0, [pid]
    seen = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{current}/task/{current}/children") as children:
                stack += [int(c) for c in children.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def memory_mb(stack, names: Sequence[str] = ()) -> Dict[str, float]:
    """Resident memory of the stack's servers (all, or those named), in MB."""
    chosen = names or list(stack.processes)
    return {name: round(rss_mb(stack.processes[name].pid), 1) for name in chosen}
