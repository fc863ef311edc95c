"""PostgreSQL and Redis from Debian's packages, run locally for `make cluster` and the tests.

Their data lives in a folder of ours (`var/cluster/` for `make cluster`), they listen on
127.0.0.1 only, and they stop with us. PostgreSQL refuses to run as root: as root it runs as
the `postgres` user the Debian package creates (so that user must be able to reach the folder).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List, Optional

DATABASE = "needlewise"


def shared_temp_folder(prefix: str) -> Path:
    """A new folder under /tmp itself that PostgreSQL (run as `postgres` when we are root) and nginx's
    workers can enter: pytest's own temporary folders are private to the user who runs the tests."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(folder, 0o755)  # noqa: S103 - others may enter; what is inside keeps its own modes
    return folder


class ServiceError(RuntimeError):
    """A local service that cannot start; the message says what to do."""


def _wait_for_port(port: int, timeout: float, process: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise ServiceError(f"not listening on port {port} after {timeout:.0f} s")


def postgres_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise ServiceError("PostgreSQL is not installed: run scripts/system_deps.sh (Debian package postgresql).")
    return found[-1]


class LocalPostgres:
    """A PostgreSQL server with its data in `base/data`, on 127.0.0.1:`port`, holding one database."""

    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port = Path(base), port
        self.data = self.base / "data"
        self.as_root = os.geteuid() == 0
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _command(self, name: str, *args: str) -> List[str]:
        command = [postgres_binary(name), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self.as_root else command

    def _run(self, name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(self._command(name, *args), capture_output=True, text=True, timeout=timeout)

    def start(self) -> str:
        """Creates the data folder on first use, starts the server and the database; returns its URL."""
        self.base.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            if self.as_root:
                shutil.chown(self.base, "postgres")
                shutil.chown(self.data, "postgres")
            os.chmod(self.data, 0o700)
            done = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--encoding=UTF8")
            if done.returncode != 0:
                raise ServiceError(f"PostgreSQL could not create {self.data}: {done.stderr.strip()[-400:]}")
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        # -l: the server writes its log to a file, so it holds none of our pipes open
        done = self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.base / "server.log"), "-w", "start"
        )
        if done.returncode != 0:
            raise ServiceError(f"PostgreSQL did not start on port {self.port}: see {self.base / 'server.log'}")
        self.started = True
        created = self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE)
        if created.returncode != 0 and "already exists" not in created.stderr:
            self.stop()
            raise ServiceError(f"PostgreSQL could not create the database: {created.stderr.strip()}")
        return self.url

    def stop(self) -> None:
        if self.started and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        self.started = False


class LocalRedis:
    """A Redis server on 127.0.0.1:`port`, its working folder `base`; nothing saved to disk (it holds
    only locks and rate-limit counts, which outlive no restart)."""

    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port = Path(base), port
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("Redis is not installed: run scripts/system_deps.sh (Debian package redis-server).")
        self.base.mkdir(parents=True, exist_ok=True)
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.base)]
        command += ["--save", "", "--appendonly", "no", "--logfile", str(self.base / "server.log")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_for_port(self.port, 30, self.process)
        except ServiceError as error:
            self.stop()
            raise ServiceError(f"Redis {error}: see {self.base / 'server.log'}") from None
        return self.url

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
