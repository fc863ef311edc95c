"""How long conversations are kept (needlewise/retention.py), on a real SQLite tracker store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from needlewise import settings
from needlewise.retention import (
    KIOSK_PREFIX,
    Retention,
    delete_conversation,
    engine_for,
    purge,
    tracker_store_url,
)
from needlewise.settings import Settings

NOW = time.time()
DAY = 86_400.0
MINUTE = 60.0


#: sender -> timestamps of its events (the last one is what retention looks at)
CONVERSATIONS = {
    "old": [NOW - 45 * DAY, NOW - 41 * DAY, NOW - 40 * DAY],
    "recent": [NOW - 2 * DAY, NOW - 1 * DAY],
    "long-running": [NOW - 90 * DAY, NOW - 5 * MINUTE],  # started long ago, still active: kept
    "kiosk:abc": [NOW - 25 * MINUTE, NOW - 20 * MINUTE],
    "kiosk:def": [NOW - 6 * MINUTE, NOW - 5 * MINUTE],
}


@pytest.fixture()
def database(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "store" / "conversations.db"
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{path}")
    settings.current.cache_clear()
    return path


@pytest.fixture()
def store(database: Path):
    """Rasa's own SQL tracker store, as the bot configures it: it creates the events table."""
    from rasa_addons.tracker_store import NeedlewiseTrackerStore

    return NeedlewiseTrackerStore()


async def save_conversation(store, sender: str, timestamps: list) -> None:
    from rasa.shared.core.events import BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = []
    for stamp in timestamps:
        events.append(UserUttered("what is dry needling?", {"name": "what_is_dry_needling"}, timestamp=stamp))
        events.append(BotUttered("Dry needling is ...", timestamp=stamp + 0.5))
    await store.save(DialogueStateTracker.from_events(sender, events))


@pytest.fixture()
async def filled(store):
    for sender, timestamps in CONVERSATIONS.items():
        await save_conversation(store, sender, timestamps)
    return store


def senders(engine: sa.engine.Engine) -> set:
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(sa.text("SELECT DISTINCT sender_id FROM events"))}


def count(engine: sa.engine.Engine, sender: str) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}).scalar()


def test_the_tracker_store_uses_tracker_store_url(database, filled):
    assert tracker_store_url() == f"sqlite:///{database}"
    assert database.exists()
    columns = {column["name"] for column in sa.inspect(filled.engine).get_columns("events")}
    assert {"sender_id", "timestamp", "type_name", "data"} <= columns
    assert senders(filled.engine) == set(CONVERSATIONS)
    # the stored timestamps are the events' own, which is what retention relies on
    with filled.engine.connect() as connection:
        last = connection.execute(
            sa.text("SELECT max(timestamp) FROM events WHERE sender_id = 'old' AND type_name = 'user'")
        ).scalar()
    assert last == pytest.approx(NOW - 40 * DAY)


def test_purge_deletes_exactly_the_old_and_the_idle_kiosk_conversations(filled):
    deleted = purge(filled.engine, Retention(days=30, kiosk_minutes=15), now=NOW)
    assert deleted == {"conversations": 1, "kiosk": 1}
    assert senders(filled.engine) == {"recent", "long-running", "kiosk:def"}
    assert count(filled.engine, "recent") == 2 * len(CONVERSATIONS["recent"])  # untouched, every event kept
    # running it again finds nothing more
    assert purge(filled.engine, Retention(days=30, kiosk_minutes=15), now=NOW) == {"conversations": 0, "kiosk": 0}


def test_purge_keeps_kiosk_conversations_when_asked(filled):
    deleted = purge(filled.engine, Retention(days=30, kiosk_minutes=15, keep_kiosk=True), now=NOW)
    assert deleted == {"conversations": 1, "kiosk": 0}
    assert senders(filled.engine) == {"recent", "long-running", "kiosk:abc", "kiosk:def"}


async def test_a_kept_kiosk_conversation_still_goes_after_the_retention_days(store):
    await save_conversation(store, "kiosk:ancient", [NOW - 40 * DAY])
    await save_conversation(store, "kiosk:fresh", [NOW - 1 * MINUTE])
    deleted = purge(store.engine, Retention(days=30, kiosk_minutes=15, keep_kiosk=True), now=NOW)
    assert deleted == {"conversations": 1, "kiosk": 0}
    assert senders(store.engine) == {"kiosk:fresh"}


def test_purge_uses_the_retention_days_it_is_given(filled):
    assert purge(filled.engine, Retention(days=50, kiosk_minutes=30), now=NOW) == {"conversations": 0, "kiosk": 0}
    assert senders(filled.engine) == set(CONVERSATIONS)
    assert purge(filled.engine, Retention(days=0.5, kiosk_minutes=1), now=NOW) == {"conversations": 2, "kiosk": 2}
    assert senders(filled.engine) == {"long-running"}


def test_purge_deletes_many_conversations_in_batches(store):
    with store.engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (:s, 'user', :t, '{}')"),
            [{"s": f"bulk-{i}", "t": NOW - 60 * DAY} for i in range(1_234)],
        )
    assert purge(store.engine, Retention(days=30), now=NOW) == {"conversations": 1_234, "kiosk": 0}
    assert senders(store.engine) == set()


def test_delete_conversation_removes_one_sender_and_its_kiosk_twin(filled):
    before = count(filled.engine, "abc") + count(filled.engine, "kiosk:abc")
    assert before == 2 * len(CONVERSATIONS["kiosk:abc"])
    assert delete_conversation(filled.engine, "abc") == before
    assert senders(filled.engine) == set(CONVERSATIONS) - {"kiosk:abc"}
    assert delete_conversation(filled.engine, "recent") == 2 * len(CONVERSATIONS["recent"])
    assert "recent" not in senders(filled.engine)
    assert delete_conversation(filled.engine, "nobody") == 0
    assert senders(filled.engine) == {"old", "long-running", "kiosk:def"}


def test_delete_conversation_of_a_kiosk_sender_id_as_stored(filled):
    assert delete_conversation(filled.engine, "kiosk:def") == 2 * len(CONVERSATIONS["kiosk:def"])
    assert "kiosk:def" not in senders(filled.engine)


def test_delete_does_not_treat_sql_wildcards_as_patterns(filled):
    assert delete_conversation(filled.engine, "%") == 0
    assert delete_conversation(filled.engine, "kiosk:%") == 0
    assert senders(filled.engine) == set(CONVERSATIONS)


async def test_the_tracker_store_deletes_a_conversation_for_forget_me(filled):
    assert await filled.delete("recent") == 2 * len(CONVERSATIONS["recent"])
    assert await filled.retrieve("recent") is None
    assert senders(filled.engine) == set(CONVERSATIONS) - {"recent"}


def test_scripts_purge_main_purges_the_store_named_by_the_url(filled, monkeypatch, capsys):
    from tools import purge as purge_script

    monkeypatch.setenv("RETENTION_DAYS", "30")
    monkeypatch.setenv("KIOSK_RETENTION_MINUTES", "15")
    monkeypatch.delenv("KEEP_KIOSK_CONVERSATIONS", raising=False)
    settings.current.cache_clear()
    assert purge_script.main() == 0
    out = capsys.readouterr().out
    assert "Deleted 1 conversation(s) older than 30 days" in out
    assert "1 kiosk conversation(s) idle for 15 minutes" in out
    assert senders(filled.engine) == {"recent", "long-running", "kiosk:def"}


def test_scripts_purge_main_keeps_kiosk_conversations_when_configured(filled, monkeypatch, capsys):
    from tools import purge as purge_script

    monkeypatch.setenv("RETENTION_DAYS", "3")
    monkeypatch.setenv("KEEP_KIOSK_CONVERSATIONS", "true")
    settings.current.cache_clear()
    assert purge_script.main() == 0
    out = capsys.readouterr().out
    assert "Deleted 1 conversation(s) older than 3 days." in out
    assert "kiosk" not in out
    assert senders(filled.engine) == {"recent", "long-running", "kiosk:abc", "kiosk:def"}


def test_a_database_without_the_events_table_purges_nothing(tmp_path, monkeypatch, capsys):
    path = tmp_path / "empty" / "new.db"
    engine = engine_for(f"sqlite:///{path}")
    assert purge(engine, Retention()) == {"conversations": 0, "kiosk": 0}
    assert delete_conversation(engine, "anyone") == 0
    assert not sa.inspect(engine).has_table("events")  # purging does not create the table
    from tools import purge as purge_script

    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{path}")
    settings.current.cache_clear()
    assert purge_script.main() == 0
    assert "Deleted 0 conversation(s)" in capsys.readouterr().out


def test_engine_for_makes_the_folder_of_a_sqlite_database(tmp_path):
    path = tmp_path / "a" / "b" / "c.db"
    engine_for(f"sqlite:///{path}")
    assert path.parent.is_dir()


def test_retention_comes_from_the_settings():
    assert Retention.from_settings(Settings.from_environment({})) == Retention(30.0, 15.0, False)
    for value, keep in [("true", True), ("false", False)]:
        values = Settings.from_environment(
            {"RETENTION_DAYS": "7.5", "KIOSK_RETENTION_MINUTES": "5", "KEEP_KIOSK_CONVERSATIONS": value}
        )
        assert Retention.from_settings(values) == Retention(days=7.5, kiosk_minutes=5.0, keep_kiosk=keep)


def test_the_default_store_is_sqlite_in_var(monkeypatch):
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    settings.current.cache_clear()
    assert tracker_store_url().startswith("sqlite:///")
    assert tracker_store_url().endswith(str(Path("var") / "conversations.db"))
    assert KIOSK_PREFIX == "kiosk:"


async def test_an_event_broker_gets_each_new_event_once(database):
    from rasa.core.brokers.broker import EventBroker
    from rasa.shared.core.events import BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from rasa_addons.tracker_store import NeedlewiseTrackerStore

    class Collecting(EventBroker):
        def __init__(self) -> None:
            self.published: list = []

        def publish(self, event: dict) -> None:
            self.published.append(event)

    broker = Collecting()
    store = NeedlewiseTrackerStore(event_broker=broker)
    await store.save(DialogueStateTracker.from_events("p1", [UserUttered("hi", {"name": "greet"})]))
    tracker = await store.retrieve("p1")  # the cached conversation, as Rasa uses it turn after turn
    tracker.update(BotUttered("Hello"))
    await store.save(tracker)
    assert [(e["sender_id"], e["event"]) for e in broker.published] == [("p1", "user"), ("p1", "bot")]


async def test_a_kiosk_conversation_leaves_the_cache_when_the_purge_may_delete_it(database, monkeypatch):
    import time

    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from rasa_addons.tracker_store import NeedlewiseTrackerStore

    monkeypatch.setenv("KIOSK_RETENTION_MINUTES", "0.002")  # 0.12 s
    settings.current.cache_clear()
    store = NeedlewiseTrackerStore()
    for sender in ("kiosk:abc", "web-abc"):
        await store.save(DialogueStateTracker.from_events(sender, [UserUttered("hi", {"name": "greet"})]))
    time.sleep(0.2)
    assert store._cached("kiosk:abc") is None
    assert store._cached("web-abc") is not None
