"""`make cluster` as it runs: real PostgreSQL, Redis, action server, two Rasa servers, the web
server and nginx (Debian's packages), started for these tests on free ports, all through nginx.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import requests
import sqlalchemy as sa

from needlewise.dialogue import DURATION_BY_CATEGORY, DURATION_FOLLOWUPS
from servers.cluster import Cluster, ClusterConfig
from servers.services import shared_temp_folder
from servers.web import security_headers
from tests.conftest import STAFF_TOKEN, contract_customs, new_sender, one_custom, stack_env

PATIENTS = 50
TURNS_EACH = 3
QUESTIONS = [
    "what is dry needling?",
    "does it hurt?",
    "what are the common side effects?",
    "how many sessions will I need?",
    "is dry needling safe?",
    "what happens at the first visit?",
]


@pytest.fixture(scope="module")
def cluster(model_path: Path):
    folder = shared_temp_folder("needlewise-cluster-")
    config = ClusterConfig.free(
        folder,
        instances=2,
        model=model_path,
        log_dir=folder / "logs",
        # one test client sends for 50 patients: the per-address limit stays on, but high
        extra_env=stack_env(RATE_LIMIT_PER_CLIENT="100000", RATE_LIMIT_PER_SENDER="1000", STAFF_TOKEN=STAFF_TOKEN),
    )
    with Cluster(config) as running:
        yield running
    shutil.rmtree(folder, ignore_errors=True)


def post(cluster: Cluster, sender: str, message: str, headers: Optional[Dict[str, str]] = None) -> Tuple[int, list]:
    url = f"{cluster.config.public_url}/webhooks/rest/webhook"
    response = requests.post(url, json={"sender": sender, "message": message}, headers=headers or {}, timeout=60)
    return response.status_code, (response.json() if response.status_code == 200 else [])


def upstreams(cluster: Cluster, since: int = 0) -> List[str]:
    """The Rasa server (host:port) of each REST turn nginx logged, in order, from line `since`."""
    lines = (cluster.config.folder / "nginx" / "logs" / "access.log").read_text().splitlines()[since:]
    return [line.split()[4] for line in lines if " /webhooks/rest/webhook " in line]


def log_length(cluster: Cluster) -> int:
    path = cluster.config.folder / "nginx" / "logs" / "access.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


def stored_events(cluster: Cluster, sender: str) -> List[dict]:
    import json

    engine = sa.create_engine(cluster.postgres.url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT type_name, data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender}
        )
        events = [{"type": row[0], **json.loads(row[1])} for row in rows]
    engine.dispose()
    return events


def user_texts(events: List[dict]) -> List[str]:
    return [e.get("text") for e in events if e["type"] == "user"]


def is_subsequence(part: List[str], whole: List[str]) -> bool:
    """`part` in `whole`, in the same order (others may come between)."""
    rest = iter(whole)
    return all(item in rest for item in part)


def rasa_ports(cluster: Cluster) -> List[str]:
    return [f"127.0.0.1:{port}" for port in cluster.config.stack.rasa_ports.values()]


# --- one entry point ----------------------------------------------------------------------------------


def test_health_reports_every_part(cluster):
    response = requests.get(f"{cluster.config.public_url}/health", timeout=10)
    assert response.status_code == 200
    parts = response.json()["components"]
    assert set(parts) == {"knowledge", "rasa-1", "rasa-2", "actions", "tracker_store", "lock_store"}
    assert all(part["ok"] for part in parts.values()), parts
    assert parts["tracker_store"]["state"] == "postgresql" and parts["lock_store"]["state"] == "redis"
    assert "127.0.0.1" not in response.text  # parts by name, never their internal addresses


def test_the_pages_hold_no_internal_address(cluster):
    config = requests.get(f"{cluster.config.public_url}/config.json", timeout=10)
    assert config.status_code == 200
    assert config.json()["rasaUrl"] == ""
    assert "127.0.0.1" not in config.text


@pytest.mark.parametrize("path", ["/", "/kiosk.html", "/widget.js", "/config.json", "/health"])
def test_nginx_serves_the_pages_with_the_security_headers(cluster, path):
    response = requests.get(f"{cluster.config.public_url}{path}", timeout=10)
    assert response.status_code == 200
    expected = security_headers("", "'self'")
    for name, value in expected.items():
        if name == "Cache-Control" and path == "/health":
            assert response.headers[name] == "no-store"
            continue
        assert response.headers.get(name) == value, name
    assert response.headers.get("Server") == "nginx"  # no version


def test_the_staff_report_through_nginx_needs_its_token_and_reads_postgresql(cluster):
    url = f"{cluster.config.public_url}/staff/report.json"
    assert requests.get(url, timeout=30).status_code == 401
    reply = requests.get(url, headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=60)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    assert reply.json()["range_days"] == 30
    assert requests.get(f"{cluster.config.public_url}/staff/", timeout=30).status_code == 200


def test_nginx_serves_nothing_outside_bot_web(cluster):
    for path in ["/../bot/clinic.yml", "/.git/config", "/%2e%2e/bot/endpoints.yml", "/bot/endpoints.yml"]:
        assert requests.get(f"{cluster.config.public_url}{path}", timeout=10).status_code in (400, 404), path


# --- many patients, two Rasa servers ---------------------------------------------------------------------


def test_fifty_patients_over_both_instances_lose_no_turn_and_cross_no_conversation(cluster):
    start = log_length(cluster)
    senders = [new_sender("cl") for _ in range(PATIENTS)]
    asked: Dict[str, List[str]] = {
        s: [QUESTIONS[(i + t) % len(QUESTIONS)] for t in range(TURNS_EACH)] for i, s in enumerate(senders)
    }

    def conversation(sender: str) -> List[Tuple[int, list]]:
        return [post(cluster, sender, question) for question in asked[sender]]

    with ThreadPoolExecutor(max_workers=PATIENTS) as pool:
        results = dict(zip(senders, pool.map(conversation, senders), strict=True))
    for sender, turns in results.items():
        for status, messages in turns:
            assert status == 200
            one_custom(messages)
            assert {m["recipient_id"] for m in messages} == {sender}
        assert user_texts(stored_events(cluster, sender)) == asked[sender]  # all turns, its own, in order
    used = Counter(upstreams(cluster, start))
    assert sum(used.values()) == PATIENTS * TURNS_EACH
    assert set(used) == set(rasa_ports(cluster)), used
    assert min(used.values()) >= PATIENTS * TURNS_EACH // 4, used  # spread, not all on one


def test_a_quick_double_send_is_taken_in_turn(cluster):
    """Two messages of one patient at once reach both Rasa servers; the Redis lock store makes the
    second wait, so the stored conversation has each message followed by its own reply."""
    sender, start = new_sender("double"), log_length(cluster)
    barrier = threading.Barrier(2)

    def send(text: str) -> Tuple[int, list]:
        barrier.wait()
        return post(cluster, sender, text)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(send, ["does it hurt?", "what is dry needling?"])
    assert first[0] == second[0] == 200
    assert set(upstreams(cluster, start)) == set(rasa_ports(cluster))
    events = stored_events(cluster, sender)
    kinds = [e["type"] if e["type"] != "action" else e["name"] for e in events]
    assert kinds.count("user") == 2, kinds
    # each message comes after the previous turn ended (action_listen): the two turns never interleave
    for index, event in enumerate(events):
        if event["type"] == "user":
            assert index and kinds[index - 1] == "action_listen", kinds


def test_a_follow_up_works_when_its_first_turn_went_to_the_other_instance(cluster, stack_kb):
    sender, start = new_sender("follow"), log_length(cluster)
    status, first = post(cluster, sender, "what are the common side effects?")
    assert status == 200
    topic = one_custom(first)["topic"]
    status, follow = post(cluster, sender, "how long does that last?")
    assert status == 200
    went = upstreams(cluster, start)
    assert len(went) == 2 and went[0] != went[1], went
    expected = DURATION_FOLLOWUPS.get(topic) or DURATION_BY_CATEGORY.get(stack_kb.entry(topic).category)
    custom = one_custom(follow)
    assert custom["kind"] == "answer" and custom["topic"] == expected


def test_socketio_through_nginx_over_a_websocket(cluster, stack_kb):
    """socket.io clients (rasa-webchat, a clinic's own) connect on the public port; nginx upgrades
    the connection and keeps it on one Rasa server."""
    from tests.test_socketio import Patient

    patient = Patient(cluster.config.public_url)
    try:
        assert patient.client.client.transport() == "websocket"
        messages = patient.say("what is dry needling?")
    finally:
        patient.close()
    assert one_custom(messages)["topic"] == "what_is_dry_needling"
    assert messages[0]["text"] == stack_kb.fill(stack_kb.entry("what_is_dry_needling").answer)


# --- the client address, trusted only from the proxy -------------------------------------------------------


def rate_keys(cluster: Cluster) -> set:
    import redis

    client = redis.Redis.from_url(cluster.redis.url)
    try:
        return {key.decode().split(":")[3] for key in client.scan_iter("needlewise:rate:client:*")}
    finally:
        client.close()


def address_key(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:32]


def test_rasa_trusts_a_forwarded_address_only_with_the_proxys_secret(cluster):
    forged = "203.0.113.77"
    header = {"Forwarded": f"for={forged}", "X-Forwarded-For": forged}
    assert post(cluster, new_sender("fwd"), "hello", header)[0] == 200  # through nginx: replaced
    direct = f"http://127.0.0.1:{cluster.config.stack.rasa_port}/webhooks/rest/webhook"
    requests.post(direct, json={"sender": new_sender("fwd"), "message": "hello"}, headers=header, timeout=60)
    assert address_key(forged) not in rate_keys(cluster)
    assert address_key("127.0.0.1") in rate_keys(cluster)
    secret = cluster.stack.config.environment()["FORWARDED_SECRET"]
    trusted = {"Forwarded": f"for={forged};secret={secret}"}
    requests.post(direct, json={"sender": new_sender("fwd"), "message": "hello"}, headers=trusted, timeout=60)
    assert address_key(forged) in rate_keys(cluster)  # the check can tell: with the secret, it is taken


# --- one Rasa server lost under load (last: it changes the cluster) -----------------------------------------


def test_with_one_instance_killed_mid_load_every_later_turn_is_answered(cluster):
    senders = [new_sender("kill") for _ in range(20)]
    for sender in senders:  # each conversation starts while both servers run
        assert post(cluster, sender, "what is dry needling?")[0] == 200
    killed = threading.Event()
    killed_at: List[float] = []
    asked: Dict[str, List[str]] = {s: [] for s in senders}
    results: Dict[str, List[Tuple[float, int, list]]] = {s: [] for s in senders}

    def keep_talking(sender: str) -> None:
        """Talks until three of its turns were sent after the kill (a bound keeps a failure short)."""
        for number in range(200):
            if sum(sent > killed_at[0] for sent, _, _ in results[sender]) >= 3 if killed.is_set() else False:
                return
            question = QUESTIONS[1 + number % (len(QUESTIONS) - 1)]
            sent = time.monotonic()
            status, messages = post(cluster, sender, question)
            asked[sender].append(question)
            results[sender].append((sent, status, messages))

    def kill_one() -> None:
        time.sleep(1.0)
        process = cluster.stack.processes["rasa-2"]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        killed_at.append(time.monotonic())
        killed.set()

    with ThreadPoolExecutor(max_workers=len(senders) + 1) as pool:
        pool.submit(kill_one)
        list(pool.map(keep_talking, senders))
    assert killed_at, "the instance was not killed"
    before = [status for turns in results.values() for sent, status, _ in turns if sent < killed_at[0]]
    later = [
        (status, messages) for turns in results.values() for sent, status, messages in turns if sent > killed_at[0]
    ]
    assert before and len(later) >= 3 * len(senders)
    for status, messages in later:  # answered by the bot, not by the safety net
        assert status == 200 and len(contract_customs(messages)) == 1
        assert contract_customs(messages)[0].get("reason") not in ("knowledge_unavailable", "no_knowledge")
    for sender in senders:  # every conversation keeps its history and goes on
        status, more = post(cluster, sender, "/followup_more")
        assert status == 200 and one_custom(more)["kind"] != "fallback"  # it still knows the last topic
        said = user_texts(stored_events(cluster, sender))
        answered = [q for (_, status, _), q in zip(results[sender], asked[sender], strict=True) if status == 200]
        lost = len(asked[sender]) - len(answered)  # in flight on the killed server: stored or not
        assert said[0] == "what is dry needling?"
        history = said[1:-1]
        assert is_subsequence(answered, history) and is_subsequence(history, asked[sender]), (history, answered)
        assert len(history) - len(answered) <= lost
    cluster.stack.start_one("rasa-2")  # leave the cluster whole
    cluster.stack.wait_ready(["rasa-2"])
