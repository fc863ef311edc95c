"""`make bench`: how fast Needlewise answers, side by side with Rasa's starter configuration.

Both bots run on the same servers, domain, rules, actions and data; only `config.yml` differs
(ours, or `bench/default_config.yml`: what `rasa init` ships). For each: training time, time
from start to ready, resident memory, held-out NLU accuracy, and latency and throughput with
1, 10 and 50 simulated patients (tools/load.py). Then the cluster (`make cluster`: PostgreSQL,
Redis, nginx) at 50 patients with 1 and with 2 Rasa servers, and with 2 servers whose tracker
cache is off. Writes `results/bench.json` and `results/bench.png`, prints the ratios and checks
the targets. `--cluster-only` measures the cluster alone and adds it to an existing bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from needlewise import settings
from needlewise.knowledge import load_topic_spec
from servers.cluster import Cluster, ClusterConfig
from servers.services import shared_temp_folder
from servers.stack import ROOT, VENV_BIN, Stack, StackConfig
from tools import evaluate
from tools.load import LOAD_ENV, memory_mb, run_load

LEVELS = (1, 10, 50)
CLUSTER_PATIENTS = 50
#: (label, Rasa servers, tracker cache on)
CLUSTER_RUNS = (("1 instance", 1, True), ("2 instances", 2, True), ("2 instances, no tracker cache", 2, False))
TARGETS = {
    "throughput_ratio_at_50_min": 5.0,
    "p95_ms_at_10_max": 150.0,
    "ready_seconds_max": 20.0,
    "memory_mb_max": 1500.0,
}
#: Ours as `make run` runs it; and the bot a clinic would get from `rasa init`'s configuration and
#: stock Rasa (its own REST channel, in-memory tracker store), with the same domain, data and actions.
CONFIGS = {
    "needlewise": {
        "config": ROOT / "config.yml",
        "model": ROOT / "models" / "needlewise.tar.gz",
        "credentials": ROOT / "bot" / "credentials.yml",
        "endpoints": ROOT / "bot" / "endpoints.yml",
    },
    "default": {
        "config": ROOT / "bench" / "default_config.yml",
        "model": ROOT / "models" / "default-config.tar.gz",
        "credentials": ROOT / "bench" / "default_credentials.yml",
        "endpoints": ROOT / "bench" / "default_endpoints.yml",
    },
}


def train(config: Path, out_dir: Path, name: str) -> float:
    """Trains from scratch (a fresh Rasa cache) and returns the seconds it took."""
    with tempfile.TemporaryDirectory(prefix="needlewise-cache-") as cache:
        return _train(config, out_dir, name, settings.child_environment(RASA_CACHE_DIRECTORY=cache))


def _train(config: Path, out_dir: Path, name: str, env: Dict[str, str]) -> float:
    started = time.monotonic()
    process = subprocess.Popen(
        [
            str(VENV_BIN / "rasa"),
            "train",
            "--config",
            str(config),
            "--domain",
            str(ROOT / "bot" / "domain"),
            "--data",
            str(ROOT / "data"),
            "--out",
            str(out_dir),
            "--fixed-model-name",
            name,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            code = process.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            sys.stderr.write(f"\r  training {name}: {time.monotonic() - started:4.0f} s")
            sys.stderr.flush()
    sys.stderr.write("\n")
    if code != 0:
        raise subprocess.CalledProcessError(code, f"rasa train --config {config}")
    return round(time.monotonic() - started, 1)


def training_inputs() -> List[Path]:
    """What a model is trained from besides its config (as the Makefile's model rule lists it)."""
    folders = (ROOT / "data", ROOT / "bot" / "domain")
    builds = [ROOT / "build" / "spacy" / "needlewise_en" / "meta.json", ROOT / "build" / "encoder" / "meta.json"]
    return [path for folder in folders for path in folder.rglob("*.yml")] + [path for path in builds if path.exists()]


def training_seconds(label: str, spec: Dict[str, Path]) -> float:
    """Training time, measured once per model and kept beside it."""
    record = spec["model"].parent / spec["model"].name.replace(".tar.gz", ".train.json")
    inputs = [spec["config"], *training_inputs()]
    fresh = (
        spec["model"].exists()
        and record.exists()
        and record.stat().st_mtime >= spec["model"].stat().st_mtime
        and spec["model"].stat().st_mtime >= max(path.stat().st_mtime for path in inputs)
    )
    if fresh:
        return json.loads(record.read_text())["seconds"]
    print(f"Training the {label} configuration (timed) ...", flush=True)
    seconds = train(spec["config"], spec["model"].parent, spec["model"].name.replace(".tar.gz", ""))
    record.write_text(json.dumps({"seconds": seconds}))
    return seconds


def measure(label: str, spec: Dict[str, Path], seconds_per_level: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="needlewise-bench-") as folder:
        return _measure(label, spec, seconds_per_level, Path(folder) / "conversations.db")


def _measure(label: str, spec: Dict[str, Path], seconds_per_level: float, database: Path) -> dict:
    config = StackConfig.free(
        model=spec["model"],
        credentials=spec["credentials"],
        endpoints=spec["endpoints"],
        extra_env={**LOAD_ENV, "TRACKER_STORE_URL": f"sqlite:///{database}"},
        patched=label == "needlewise",  # the starter configuration runs stock Rasa
    )
    stack = Stack(config)
    started = time.monotonic()
    stack.start()
    try:
        stack.wait_ready()
        ready = round(time.monotonic() - started, 1)
        print(f"{label}: ready in {ready} s", flush=True)
        levels = []
        for concurrency in LEVELS:
            asyncio.run(run_load(config.rasa_url, concurrency, seconds=2, progress=False))  # warm up
            result = asyncio.run(run_load(config.rasa_url, concurrency, seconds=seconds_per_level))
            levels.append(result.summary())
        memory = memory_mb(stack)
    finally:
        stack.stop()
    memory["total"] = round(sum(memory.values()), 1)
    return {"ready_seconds": ready, "levels": levels, "memory_mb": memory}


def measure_cluster(seconds: float) -> dict:
    """Throughput and latency at 50 patients through nginx, for each of CLUSTER_RUNS, one after another."""
    runs = {}
    for label, instances, cache in CLUSTER_RUNS:
        folder = shared_temp_folder("needlewise-bench-cluster-")
        model = CONFIGS["needlewise"]["model"]
        config = ClusterConfig.free(folder, instances=instances, model=model, extra_env=LOAD_ENV)
        config.tracker_cache = cache
        cluster = Cluster(config)
        try:
            ready = round(cluster.start(), 1)
            asyncio.run(run_load(config.public_url, CLUSTER_PATIENTS, seconds=3, progress=False))  # warm up
            result = asyncio.run(run_load(config.public_url, CLUSTER_PATIENTS, seconds=seconds)).summary()
        finally:
            cluster.stop()
            shutil.rmtree(folder, ignore_errors=True)
        result.update({"instances": instances, "tracker_cache": cache, "ready_seconds": ready})
        runs[label] = result
        print(f"cluster, {label}: {result['throughput_per_s']} turns/s, p95 {result['p95_ms']} ms", flush=True)
    one, two = runs["1 instance"], runs["2 instances"]
    return {
        "patients": CLUSTER_PATIENTS,
        "runs": runs,
        "two_over_one": round(two["throughput_per_s"] / one["throughput_per_s"], 2),
        "cache_on_over_off": round(
            two["throughput_per_s"] / runs["2 instances, no tracker cache"]["throughput_per_s"], 2
        ),
    }


def accuracy(model: Path) -> dict:
    """Both configurations on the English held-out set, scored as `make eval` scores it."""
    found = asyncio.run(evaluate.predict(model, {"en": evaluate.load_examples(evaluate.HELDOUT)}))
    results, _ = evaluate.answered_elsewhere(found["en"], "en")
    return evaluate.score(results, load_topic_spec(), "en")["metrics"]


def level(report: dict, concurrency: int) -> dict:
    return next(item for item in report["levels"] if item["concurrency"] == concurrency)


def plot(reports: Dict[str, dict], path: Path, cluster: Dict | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if cluster else 2
    figure, axes_row = plt.subplots(1, panels, figsize=(5.5 * panels, 4.2))
    latency, throughput = axes_row[0], axes_row[1]
    for label, style in (("needlewise", "-"), ("default", "--")):
        rows = reports[label]["levels"]
        xs = [r["concurrency"] for r in rows]
        for key, marker in (("p50_ms", "o"), ("p95_ms", "s"), ("p99_ms", "^")):
            latency.plot(xs, [r[key] for r in rows], style, marker=marker, label=f"{label} {key[:3]}")
        throughput.plot(xs, [r["throughput_per_s"] for r in rows], style, marker="o", label=label)
    latency.set(
        xscale="log", yscale="log", xlabel="concurrent patients", ylabel="latency (ms)", title="Latency percentiles"
    )
    throughput.set(xscale="log", xlabel="concurrent patients", ylabel="turns per second", title="Throughput")
    for axes in (latency, throughput):
        axes.set_xticks(list(LEVELS), [str(x) for x in LEVELS])
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
    if cluster:
        bars = axes_row[2]
        labels = list(cluster["runs"])
        bars.bar(range(len(labels)), [cluster["runs"][k]["throughput_per_s"] for k in labels], color="#2a6f97")
        bars.set_xticks(range(len(labels)), [k.replace(", ", ",\n") for k in labels], fontsize=8)
        bars.set(ylabel="turns per second", title=f"make cluster behind nginx, {cluster['patients']} patients")
        bars.grid(True, axis="y", alpha=0.3)
    figure.suptitle("Needlewise vs Rasa's starter configuration, same data, REST channel, 2 cores")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of load at each level")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--cluster-only", action="store_true", help="measure the cluster, add it to bench.json")
    args = parser.parse_args(argv)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(30)  # warnings only: no per-message lines with patients' words
    if args.cluster_only:
        return cluster_only(args.out, args.seconds)
    reports: Dict[str, dict] = {}
    for label, spec in CONFIGS.items():
        train_seconds = training_seconds(label, spec)
        report = measure(label, spec, args.seconds)
        report["train_seconds"] = train_seconds
        report["heldout"] = accuracy(spec["model"])
        reports[label] = report
    ours, default = reports["needlewise"], reports["default"]
    ratios = {
        f"throughput_at_{c}": round(level(ours, c)["throughput_per_s"] / level(default, c)["throughput_per_s"], 2)
        for c in LEVELS
    }
    ratios.update({f"p95_at_{c}": round(level(default, c)["p95_ms"] / level(ours, c)["p95_ms"], 2) for c in LEVELS})
    ratios["training_time"] = round(default["train_seconds"] / ours["train_seconds"], 2)
    checks = {
        "throughput at 50 >= 5x default": ratios["throughput_at_50"] >= TARGETS["throughput_ratio_at_50_min"],
        "p95 at 10 <= 150 ms": level(ours, 10)["p95_ms"] <= TARGETS["p95_ms_at_10_max"],
        "zero errors at every level": all(r["errors"] == 0 for r in ours["levels"]),
        "ready <= 20 s": ours["ready_seconds"] <= TARGETS["ready_seconds_max"],
        "memory of all servers <= 1.5 GB": ours["memory_mb"]["total"] <= TARGETS["memory_mb_max"],
        "held-out intent and topic accuracy above the default's": all(
            ours["heldout"][measure] > default["heldout"][measure] for measure in ("intent_accuracy", "topic_accuracy")
        ),
    }
    cluster = measure_cluster(args.seconds)
    summary = {"reports": reports, "ratios": ratios, "targets": TARGETS, "checks": checks, "cores": os.cpu_count()}
    summary.update({"cluster": cluster, "date": time.strftime("%Y-%m-%d")})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    plot(reports, args.out / "bench.png", cluster)

    print("\n| measure | Needlewise | Rasa starter config | ratio |")
    print("| --- | --- | --- | --- |")
    for c in LEVELS:
        a, b = level(ours, c), level(default, c)
        print(
            f"| throughput, {c} patients (turns/s) | {a['throughput_per_s']} | {b['throughput_per_s']} "
            f"| {ratios[f'throughput_at_{c}']}x |"
        )
        print(
            f"| p50 / p95 / p99, {c} patients (ms) | {a['p50_ms']} / {a['p95_ms']} / {a['p99_ms']} "
            f"| {b['p50_ms']} / {b['p95_ms']} / {b['p99_ms']} | {ratios[f'p95_at_{c}']}x (p95) |"
        )
        print(f"| errors, {c} patients | {a['errors']} | {b['errors']} | |")
    print(f"| ready after start (s) | {ours['ready_seconds']} | {default['ready_seconds']} | |")
    print(f"| training (s) | {ours['train_seconds']} | {default['train_seconds']} | {ratios['training_time']}x |")
    print(f"| memory, all servers (MB) | {ours['memory_mb']['total']} | {default['memory_mb']['total']} | |")
    print(
        f"| held-out intent accuracy | {ours['heldout']['intent_accuracy']} | "
        f"{default['heldout']['intent_accuracy']} | |"
    )
    print(
        f"| held-out topic accuracy | {ours['heldout']['topic_accuracy']} | {default['heldout']['topic_accuracy']} | |"
    )
    print()
    for name, ok in checks.items():
        print(f"  [{'pass' if ok else 'FAIL'}] {name}")
    print_cluster(cluster)
    print(f"\nResults: {args.out / 'bench.json'}, {args.out / 'bench.png'}")
    return 0 if all(checks.values()) else 1


def print_cluster(cluster: dict) -> None:
    print(f"\n| make cluster, {cluster['patients']} patients, through nginx | turns/s | p50 / p95 ms | errors |")
    print("| --- | --- | --- | --- |")
    for label, run in cluster["runs"].items():
        print(f"| {label} | {run['throughput_per_s']} | {run['p50_ms']} / {run['p95_ms']} | {run['errors']} |")
    print(f"2 instances / 1: {cluster['two_over_one']}x; tracker cache on / off: {cluster['cache_on_over_off']}x")


def cluster_only(out: Path, seconds: float) -> int:
    cluster = measure_cluster(seconds)
    path = out / "bench.json"
    summary = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    summary.update({"cluster": cluster, "cluster_date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count()})
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if "reports" in summary:
        plot(summary["reports"], out / "bench.png", cluster)
    print_cluster(cluster)
    return 0 if all(run["errors"] == 0 for run in cluster["runs"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
