"""`make backup` and `make restore BACKUP=<file>`: the conversations, copied aside and put back.

The database backed up is the tracker store Needlewise uses (`tracker_store_in_use`):
- TRACKER_STORE_URL, when it is set;
- otherwise the PostgreSQL of `make cluster`, when this checkout has one (`var/cluster/postgres`);
- otherwise the SQLite database of `make run` (`var/conversations.db`).

PostgreSQL: `pg_dump -Fc` into `var/backups/needlewise-<UTC time>.dump`; a restore is
`pg_restore --clean --if-exists --single-transaction` (all or nothing). SQLite: SQLite's online
backup (safe while the servers write) into `var/backups/conversations-<UTC time>.db`, and back the
same way. Both work while Needlewise runs (PostgreSQL must be running: `make cluster` starts it).

Backups hold patients' (redacted) conversations: the folder is made 0700 and every file 0600, and
after each backup the ones older than BACKUP_KEEP_DAYS are deleted. After a restore the conversations
past their retention (RETENTION_DAYS, KIOSK_RETENTION_MINUTES) are deleted at once, so an older
backup brings back nothing the purge had already deleted. A PostgreSQL password reaches pg_dump
and pg_restore in their environment (PGPASSWORD), never on a command line.

    python -m tools.backup                          # back up, then prune old backups
    python -m tools.backup --restore <file>         # put a backup back (asks nothing)
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from sqlalchemy.engine import URL, make_url

from needlewise import settings
from needlewise.settings import ROOT

BACKUP_DIR = ROOT / "var" / "backups"
#: The PostgreSQL folder of `make cluster` (servers/cluster.py's CLUSTER_DIR / "postgres").
CLUSTER_POSTGRES = ROOT / "var" / "cluster" / "postgres"
#: needlewise-20261129T023000Z.dump, conversations-20261129T023000Z.db (a -2 suffix when two share a second)
BACKUP_NAME = re.compile(r"^(?:needlewise|conversations)-(\d{8}T\d{6}Z)(?:-(\d+))?\.(?:dump|db)$")
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
PG_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


# --- which database -----------------------------------------------------------------------------


def tracker_store_in_use(values: Optional[settings.Settings] = None) -> str:
    """The tracker store's URL: TRACKER_STORE_URL if set, else `make cluster`'s PostgreSQL if this
    checkout has one, else the default SQLite database."""
    values = values or settings.current()
    if values.tracker_store_url != settings.BY_NAME["TRACKER_STORE_URL"].default:
        return values.tracker_store_url
    if (CLUSTER_POSTGRES / "data").is_dir():
        from servers.services import LocalPostgres

        return LocalPostgres(CLUSTER_POSTGRES, values.postgres_port).url
    return values.tracker_store_url


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def _kind(url: URL) -> str:
    backend = url.get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise BackupError(f"Backups cover PostgreSQL and SQLite; the tracker store is {backend}.")
    return backend


def _libpq(url: URL) -> Tuple[str, Dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries the password."""
    plain = URL.create(
        "postgresql", username=url.username, host=url.host, port=url.port, database=url.database, query=url.query
    )
    password = {} if url.password is None else {"PGPASSWORD": str(url.password)}
    return plain.render_as_string(hide_password=False), settings.child_environment(**password)


def _pg(name: str) -> str:
    from servers.services import ServiceError, postgres_binary

    try:
        return postgres_binary(name)
    except ServiceError as error:
        raise BackupError(str(error)) from None


def _failed(what: str, done: subprocess.CompletedProcess, url: URL) -> BackupError:
    said = [line.strip() for line in (done.stderr or "").strip().splitlines()[-3:]]
    hint = ""
    if url.host in ("127.0.0.1", "localhost") and any("connect" in line for line in said):
        hint = " Is Needlewise running? `make cluster` starts its PostgreSQL."
    return BackupError(f"{what} failed (exit code {done.returncode}): {' '.join(said)}{hint}")


# --- backing up ---------------------------------------------------------------------------------


def _new_file(folder: Path, prefix: str, suffix: str, now: float) -> Path:
    """A new, empty file of mode 0600 in `folder` (made 0700), named after the UTC time."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    stamp = time.strftime(STAMP_FORMAT, time.gmtime(now))
    for n in range(1, 100):
        path = folder / f"{prefix}-{stamp}{'' if n == 1 else f'-{n}'}{suffix}"
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return path
    raise BackupError(f"Too many backups in {folder} for {stamp}.")


def _backup_postgres(url: URL, folder: Path, now: float) -> Path:
    uri, env = _libpq(url)
    path = _new_file(folder, "needlewise", ".dump", now)
    try:
        with open(path, "wb") as out:
            done = subprocess.run(
                [_pg("pg_dump"), "--format=custom", f"--dbname={uri}"],
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        if done.returncode != 0:
            raise _failed("pg_dump", done, url)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("The tracker store is an in-memory SQLite database: there is nothing to back up.")
    return Path(url.database)


def _backup_sqlite(url: URL, folder: Path, now: float) -> Path:
    source = _sqlite_file(url)
    if not source.is_file():
        raise BackupError(f"No conversations database at {source} yet: Needlewise has kept no conversation.")
    path = _new_file(folder, "conversations", ".db", now)
    try:
        with contextlib.closing(sqlite3.connect(source)) as live, contextlib.closing(sqlite3.connect(path)) as copy:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def backup(url: str, folder: Path = BACKUP_DIR, now: Optional[float] = None) -> Path:
    """Backs up the tracker store at `url` into a new file of `folder`; returns its path."""
    parsed = make_url(url)
    now = time.time() if now is None else now
    if _kind(parsed) == "postgresql":
        return _backup_postgres(parsed, Path(folder), now)
    return _backup_sqlite(parsed, Path(folder), now)


def prune(folder: Path = BACKUP_DIR, keep_days: Optional[float] = None, now: Optional[float] = None) -> List[Path]:
    """Deletes the backups (by the time in their name) older than `keep_days`; returns those deleted.
    Files not named like a backup are left alone."""
    now = time.time() if now is None else now
    keep_days = settings.current().backup_keep_days if keep_days is None else keep_days
    deleted = []
    for path in sorted(Path(folder).glob("*")) if Path(folder).is_dir() else []:
        match = BACKUP_NAME.match(path.name)
        if not match or not path.is_file():
            continue
        taken = calendar.timegm(time.strptime(match.group(1), STAMP_FORMAT))
        if now - taken > keep_days * 86400:
            path.unlink()
            deleted.append(path)
    return deleted


def backups(folder: Path = BACKUP_DIR) -> List[Path]:
    """The backups in `folder`, oldest first."""
    found = [p for p in Path(folder).glob("*") if BACKUP_NAME.match(p.name)] if Path(folder).is_dir() else []

    def taken(path: Path) -> Tuple[str, int]:
        match = BACKUP_NAME.match(path.name)
        return match.group(1), int(match.group(2) or 1)

    return sorted(found, key=taken)


# --- restoring ----------------------------------------------------------------------------------


def _file_kind(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(PG_MAGIC):
        return "postgresql"
    if head == SQLITE_MAGIC:
        return "sqlite"
    raise BackupError(f"{path} is not a Needlewise backup (neither a pg_dump -Fc file nor a SQLite database).")


def restore(url: str, path: Path) -> None:
    """Replaces the conversations of the tracker store at `url` with those of the backup `path`."""
    parsed, path = make_url(url), Path(path)
    if not path.is_file():
        raise BackupError(f"No backup file at {path}.")
    kind, wanted = _file_kind(path), _kind(parsed)
    if kind != wanted:
        raise BackupError(f"{path} is a {kind} backup, but the tracker store is {wanted} ({shown(url)}).")
    if kind == "postgresql":
        uri, env = _libpq(parsed)
        command = [_pg("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction"]
        done = subprocess.run([*command, f"--dbname={uri}", str(path)], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise _failed("pg_restore", done, parsed)
        return
    target = _sqlite_file(parsed)
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as saved, contextlib.closing(sqlite3.connect(target)) as live:
        saved.backup(live)


def purge_after_restore(url: str) -> dict:
    from needlewise.retention import Retention, purge_configured

    return purge_configured(url, Retention.from_settings())


# --- the command --------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--restore", metavar="FILE", help="put this backup back instead of making one")
    parser.add_argument("--dir", type=Path, default=BACKUP_DIR, help="the backups' folder (default var/backups)")
    parser.add_argument("--keep-days", type=float, default=settings.current().backup_keep_days)
    parser.add_argument("--url", help="the tracker store (default: the one Needlewise uses)")
    args = parser.parse_args(argv)
    try:
        url = args.url or tracker_store_in_use()
        if args.restore is not None:
            if not args.restore.strip():
                found = "\n".join(f"  {p}" for p in backups(args.dir)) or "  (none)"
                raise BackupError(
                    f"Name the backup to restore: make restore BACKUP=<file>. Backups in {args.dir}:\n{found}"
                )
            restore(url, Path(args.restore))
            purged = purge_after_restore(url)
            print(
                f"Restored {shown(url)} from {args.restore}; deleted {purged['conversations']} conversation(s) "
                f"and {purged['kiosk']} kiosk conversation(s) past their retention."
            )
            return 0
        path = backup(url, args.dir)
        size = path.stat().st_size
        print(f"Backed up {shown(url)} to {path} ({size:,} bytes).")
        for old in prune(args.dir, args.keep_days):
            print(f"Deleted {old} (older than {args.keep_days:g} days).")
        return 0
    except (BackupError, settings.SettingError, sqlite3.Error, OSError) as error:
        print(f"make {'restore' if args.restore is not None else 'backup'}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
