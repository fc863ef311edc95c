"""`make backup` and `make restore` (tools/backup.py): conversations written by Rasa's own tracker store
into a real PostgreSQL (Debian's, started for the module) and SQLite, backed up, lost, and restored."""

from __future__ import annotations

import stat
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from needlewise import settings
from needlewise.settings import ROOT
from tests.test_postgres import postgres_url  # noqa: F401 - the fixture: a real PostgreSQL for this module
from tests.test_retention import save_conversation as save
from tools import backup as backup_tool

NOW = time.time()
DAY = 86_400.0
#: sender -> timestamps of its events: "old" is past the 30 days' retention
CONVERSATIONS = {"recent": [NOW - 2 * DAY, NOW - 60], "kiosk:just-now": [NOW - 30], "old": [NOW - 45 * DAY]}


def use_store(monkeypatch, url: str):
    """Rasa's SQL tracker store as the bot configures it, on `url` (it creates the events table)."""
    monkeypatch.setenv("TRACKER_STORE_URL", url)
    settings.current.cache_clear()
    from rasa_addons.tracker_store import NeedlewiseTrackerStore

    return NeedlewiseTrackerStore()


def rows(url: str) -> list:
    engine = sa.create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            query = "SELECT id, sender_id, type_name, timestamp, data FROM events ORDER BY id"
            return [tuple(row) for row in connection.execute(sa.text(query))]
    finally:
        engine.dispose()


def delete_everything(url: str) -> None:
    engine = sa.create_engine(url, future=True)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM events"))
    engine.dispose()


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


# --- PostgreSQL ------------------------------------------------------------------------------------


async def test_a_postgresql_backup_restores_every_conversation(postgres_url, monkeypatch, tmp_path, capsys):  # noqa: F811
    store = use_store(monkeypatch, postgres_url)
    for sender, timestamps in CONVERSATIONS.items():
        await save(store, sender, timestamps)
    before = rows(postgres_url)
    assert {row[1] for row in before} == set(CONVERSATIONS)

    folder = tmp_path / "backups"
    assert backup_tool.main(["--url", postgres_url, "--dir", str(folder)]) == 0
    [made] = backup_tool.backups(folder)
    assert made.name.startswith("needlewise-") and made.suffix == ".dump", made.name
    assert made.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert private(made) and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert f"to {made}" in capsys.readouterr().out

    # lost: everything deleted, and a conversation started after the backup
    delete_everything(postgres_url)
    await save(use_store(monkeypatch, postgres_url), "after-the-backup", [NOW - 10])
    assert {row[1] for row in rows(postgres_url)} == {"after-the-backup"}

    assert backup_tool.main(["--url", postgres_url, "--restore", str(made)]) == 0
    out = capsys.readouterr().out
    assert "deleted 1 conversation(s) and 0 kiosk conversation(s) past their retention" in out
    # every row as it was (ids, times, data), but the one past its retention; nothing from after the backup
    assert rows(postgres_url) == [row for row in before if row[1] != "old"]

    # the bot goes on: Rasa's store reads a restored conversation and writes new events after it
    fresh = use_store(monkeypatch, postgres_url)
    tracker = await fresh.retrieve("recent")
    assert [e.type_name for e in tracker.events].count("user") == len(CONVERSATIONS["recent"])
    await save(fresh, "next-patient", [NOW])
    assert {row[1] for row in rows(postgres_url)} == {"recent", "kiosk:just-now", "next-patient"}


def test_backing_up_the_clusters_postgresql_by_default(postgres_url, monkeypatch, tmp_path):  # noqa: F811
    """What `make backup` picks with no TRACKER_STORE_URL on a machine that runs `make cluster`."""
    port = sa.engine.make_url(postgres_url).port
    (tmp_path / "cluster-postgres" / "data").mkdir(parents=True)
    monkeypatch.setattr(backup_tool, "CLUSTER_POSTGRES", tmp_path / "cluster-postgres")
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    monkeypatch.setenv("POSTGRES_PORT", str(port))
    settings.current.cache_clear()
    assert backup_tool.tracker_store_in_use() == postgres_url
    made = backup_tool.backup(backup_tool.tracker_store_in_use(), tmp_path / "backups")
    assert made.name.startswith("needlewise-") and private(made)


# --- SQLite ----------------------------------------------------------------------------------------


async def test_a_sqlite_backup_restores_every_conversation(monkeypatch, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'var' / 'conversations.db'}"
    store = use_store(monkeypatch, url)
    for sender, timestamps in CONVERSATIONS.items():
        await save(store, sender, timestamps)
    before = rows(url)

    folder = tmp_path / "backups"
    assert backup_tool.main(["--url", url, "--dir", str(folder)]) == 0
    [made] = backup_tool.backups(folder)
    assert made.name.startswith("conversations-") and made.suffix == ".db"
    assert made.read_bytes()[:16] == b"SQLite format 3\x00" and private(made)
    assert not Path(f"{made}-wal").exists()  # one self-contained file

    delete_everything(url)
    assert rows(url) == []
    assert backup_tool.main(["--url", url, "--restore", str(made)]) == 0
    assert rows(url) == [row for row in before if row[1] != "old"]
    assert "past their retention" in capsys.readouterr().out


def test_sqlite_with_no_database_yet_says_so(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'never-ran.db'}"
    assert backup_tool.main(["--url", url, "--dir", str(tmp_path / "backups")]) == 1
    assert "no conversation" in capsys.readouterr().err
    assert backup_tool.backups(tmp_path / "backups") == []


# --- keeping backups, and what goes wrong ------------------------------------------------------------


def test_backups_older_than_the_kept_days_are_deleted(tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()

    def named(prefix: str, days_ago: float, suffix: str, extra: str = "") -> Path:
        stamp = time.strftime(backup_tool.STAMP_FORMAT, time.gmtime(NOW - days_ago * DAY))
        path = folder / f"{prefix}-{stamp}{extra}{suffix}"
        path.write_bytes(b"x")
        return path

    old = [named("needlewise", 8, ".dump"), named("conversations", 30, ".db"), named("needlewise", 7.1, ".dump", "-2")]
    kept = [named("needlewise", 6.9, ".dump"), named("conversations", 0, ".db"), folder / "notes.txt"]
    kept[-1].write_text("the clinic's own file, not a backup")
    assert sorted(backup_tool.prune(folder, keep_days=7, now=NOW)) == sorted(old)
    assert sorted(folder.iterdir()) == sorted(kept)
    assert backup_tool.prune(folder, keep_days=7, now=NOW) == []


def test_backups_are_kept_for_the_days_the_setting_says(tmp_path, monkeypatch):
    from needlewise import settings

    stamp = time.strftime(backup_tool.STAMP_FORMAT, time.gmtime(NOW - 3 * DAY))
    three_days_old = tmp_path / f"needlewise-{stamp}.dump"
    three_days_old.write_bytes(b"x")
    monkeypatch.setenv("BACKUP_KEEP_DAYS", "4")
    settings.current.cache_clear()
    assert backup_tool.prune(tmp_path, now=NOW) == []
    monkeypatch.setenv("BACKUP_KEEP_DAYS", "2")
    settings.current.cache_clear()
    assert backup_tool.prune(tmp_path, now=NOW) == [three_days_old]


def test_two_backups_in_one_second_both_stay(tmp_path, monkeypatch):
    database = tmp_path / "c.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, timestamp REAL)"))
    first = backup_tool.backup(f"sqlite:///{database}", tmp_path / "b", now=NOW)
    second = backup_tool.backup(f"sqlite:///{database}", tmp_path / "b", now=NOW)
    assert first != second and first.exists() and second.exists()
    assert second.name.endswith("-2.db") and backup_tool.backups(tmp_path / "b") == [first, second]


def test_a_missing_backup_file_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / "needlewise-20260101T000000Z.dump"
    assert backup_tool.main(["--url", "postgresql://postgres@127.0.0.1:1/needlewise", "--restore", str(missing)]) == 1
    assert capsys.readouterr().err.strip() == f"make restore: No backup file at {missing}."


def test_restore_with_no_file_named_lists_the_backups(tmp_path, capsys):
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "needlewise-20261129T023000Z.dump").write_bytes(b"PGDMP")
    assert backup_tool.main(["--url", "sqlite:///x.db", "--dir", str(folder), "--restore", ""]) == 1
    err = capsys.readouterr().err
    assert "make restore BACKUP=<file>" in err and "needlewise-20261129T023000Z.dump" in err


def test_a_backup_of_the_other_kind_or_no_backup_at_all_is_refused(tmp_path, capsys):
    sqlite_backup = tmp_path / "conversations-20261129T023000Z.db"
    sqlite_backup.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    pg_url = "postgresql://postgres@127.0.0.1:1/needlewise"
    assert backup_tool.main(["--url", pg_url, "--restore", str(sqlite_backup)]) == 1
    assert "is a sqlite backup, but the tracker store is postgresql" in capsys.readouterr().err
    other = tmp_path / "holiday.jpg"
    other.write_bytes(b"\xff\xd8\xff\xe0 not a backup")
    assert backup_tool.main(["--url", "sqlite:///x.db", "--restore", str(other)]) == 1
    assert "not a Needlewise backup" in capsys.readouterr().err


def test_a_password_goes_to_pg_dump_in_its_environment_never_its_command_line(tmp_path, monkeypatch):
    seen = {}

    def fake_run(command, **kwargs):
        seen["command"], seen["env"] = command, kwargs["env"]
        return subprocess.CompletedProcess(command, 0, stderr="")

    monkeypatch.setattr(backup_tool.subprocess, "run", fake_run)
    monkeypatch.setattr(backup_tool, "_pg", lambda name: f"/usr/bin/{name}")
    made = backup_tool.backup("postgresql+psycopg2://clinic:s3cret@db.example:5432/needlewise", tmp_path)
    assert "s3cret" not in " ".join(seen["command"])
    assert "--dbname=postgresql://clinic@db.example:5432/needlewise" in seen["command"]
    assert seen["env"]["PGPASSWORD"] == "s3cret"
    assert private(made)
    assert "s3cret" not in backup_tool.shown("postgresql://clinic:s3cret@db.example/needlewise")


def test_a_database_that_is_not_running_is_a_clear_error_and_leaves_no_file(tmp_path, capsys):
    from servers.services import ServiceError, postgres_binary

    try:
        postgres_binary("pg_dump")
    except ServiceError:
        pytest.skip("PostgreSQL's client programs are not installed (make system-deps)")
    from servers.stack import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/needlewise"
    assert backup_tool.main(["--url", url, "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("make backup: pg_dump failed") and "Is Needlewise running?" in err
    assert list(tmp_path.iterdir()) == []


def test_which_database_is_backed_up(monkeypatch, tmp_path):
    from servers.cluster import CLUSTER_DIR

    assert backup_tool.CLUSTER_POSTGRES == CLUSTER_DIR / "postgres"
    monkeypatch.setattr(backup_tool, "CLUSTER_POSTGRES", tmp_path / "postgres")
    monkeypatch.delenv("TRACKER_STORE_URL", raising=False)
    settings.current.cache_clear()
    assert backup_tool.tracker_store_in_use() == f"sqlite:///{ROOT / 'var' / 'conversations.db'}"  # `make run`
    (tmp_path / "postgres" / "data").mkdir(parents=True)
    assert backup_tool.tracker_store_in_use() == "postgresql://postgres@127.0.0.1:5433/needlewise"  # `make cluster`
    monkeypatch.setenv("TRACKER_STORE_URL", "postgresql://needlewise:pw@db.example:5432/needlewise")
    settings.current.cache_clear()
    assert backup_tool.tracker_store_in_use() == "postgresql://needlewise:pw@db.example:5432/needlewise"


def stamp_is_current() -> bool:
    """`make -q`: true when the set-up stamp is up to date (a test never re-installs the packages)."""
    return subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT, capture_output=True).returncode == 0


@pytest.mark.parametrize(
    "backup, message",
    [("var/backups/needlewise-20000101T000000Z.dump", "No backup file at"), ("", "Name the backup to restore")],
)
def test_make_restore_says_what_is_wrong_and_fails(backup, message):
    if not stamp_is_current():
        pytest.skip("the set-up is not current (make setup): this test runs make, which would re-install")
    done = subprocess.run(
        ["make", "--no-print-directory", "restore", f"BACKUP={backup}"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert message in done.stderr
