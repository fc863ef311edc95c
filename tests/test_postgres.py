"""PostgreSQL as the tracker store: a real server from Debian's packages, started for the test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from servers.services import LocalPostgres, shared_temp_folder
from servers.stack import Stack, StackConfig, free_port
from tests.conftest import contract_customs, leaks, new_sender, stack_env, turn


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL (Debian's package) with its data in a fresh folder, for the module."""
    base = shared_temp_folder("needlewise-pg-")
    server = LocalPostgres(base, free_port())
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_stack(postgres_url, model_path: Path):
    config = StackConfig.free(model=model_path, extra_env=stack_env(TRACKER_STORE_URL=postgres_url))
    stack = Stack(config)
    try:
        stack.start(["actions", "rasa"])
        stack.wait_ready(["actions", "rasa"])
        yield stack
    finally:
        stack.stop()


def stored(url: str, sender: str) -> list:
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT type_name, data FROM events WHERE sender_id = %s ORDER BY id", (sender,))
        return cursor.fetchall()


def test_conversations_are_stored_in_postgresql_redacted(pg_stack, postgres_url):
    sender = new_sender("pg")
    reply = turn(pg_stack, sender, "what is dry needling? my name is Anna Kowalski, call me on 0412 345 678")
    assert [c["kind"] for c in contract_customs(reply)] == ["answer"]
    rows = stored(postgres_url, sender)
    assert any(kind == "user" for kind, _ in rows)
    everything = " ".join(data for _, data in rows)
    assert leaks(everything) == []
    assert "[name]" in everything and "[phone]" in everything


def test_forget_me_deletes_the_conversation_from_postgresql(pg_stack, postgres_url):
    sender = new_sender("pg")
    turn(pg_stack, sender, "does dry needling hurt?")
    assert stored(postgres_url, sender)
    reply = turn(pg_stack, sender, "forget me")
    assert [c["kind"] for c in contract_customs(reply)] == ["chitchat"]
    assert stored(postgres_url, sender) == []


def test_retention_purges_postgresql(pg_stack, postgres_url):
    from needlewise.retention import Retention, engine_for, purge

    sender = new_sender("pg")
    turn(pg_stack, sender, "how long does soreness last?")
    engine = engine_for(postgres_url)
    assert purge(engine, Retention(days=30, kiosk_minutes=15))["conversations"] == 0
    assert stored(postgres_url, sender)
    later = __import__("time").time() + 31 * 86400
    assert purge(engine, Retention(days=30), now=later)["conversations"] >= 1
    assert stored(postgres_url, sender) == []
