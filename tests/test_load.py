"""The load driver's own arithmetic and contract check (the benchmark itself runs in `make bench`)."""

from __future__ import annotations

from tools.load import LoadResult, contract_problem, questions


def test_percentiles_and_throughput():
    result = LoadResult(concurrency=2, latencies_ms=[float(x) for x in range(1, 101)], errors=0, seconds=10.0)
    summary = result.summary()
    # nearest rank on 1..100 ms: index round(q/100 * 99)
    assert (summary["p50_ms"], summary["p95_ms"], summary["p99_ms"]) == (51.0, 95.0, 99.0)
    assert summary["throughput_per_s"] == 10.0
    assert summary["turns"] == 100


def test_contract_problems_are_errors():
    good = [{"text": "hi"}, {"custom": {"kind": "greeting", "topic": None}}]
    assert contract_problem(200, good) is None
    assert contract_problem(500, good) == "HTTP 500"
    assert contract_problem(200, [{"text": "hi"}]) == "0 custom objects"
    assert contract_problem(200, [*good, {"custom": {"kind": "answer"}}]) == "2 custom objects"
    assert contract_problem(200, [{"custom": {"kind": "made_up"}}]) == "1 custom objects"
    assert contract_problem(200, {"not": "a list"}) == "not a list"


def test_the_load_uses_the_held_out_questions():
    texts = questions()
    assert len(texts) >= 300
    assert all(isinstance(t, str) and t for t in texts)
