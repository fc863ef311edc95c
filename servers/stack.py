"""Starts, watches and stops Needlewise's three servers: actions, Rasa and the web pages.

`make run` runs `python -m servers.stack run` in the foreground; the integration tests and the
benchmark use `Stack` to start the real servers on free ports.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Protocol, Tuple

from needlewise import settings
from needlewise.settings import ROOT

VENV_BIN = Path(sys.executable).parent
KIOSK = ROOT / "bot" / "web" / "kiosk.html"
RESTARTABLE = ("actions", "web")
MAX_REQUEST_BYTES = 1_000_000

logger = logging.getLogger("needlewise.stack")


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_ok(url: str, timeout: float = 2.0, check_certificate: bool = True) -> bool:
    """True if `url` answers 2xx. `check_certificate=False` only for this machine's own HTTPS."""
    context = None if check_certificate else ssl._create_unverified_context()  # noqa: S323 - loopback only
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310 - our own URLs
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class StackConfig:
    """One stack's ports, host, files and extra settings (by default, from needlewise.settings)."""

    rasa_port: int = settings.BY_NAME["RASA_PORT"].default
    actions_port: int = settings.BY_NAME["ACTIONS_PORT"].default
    web_port: int = settings.BY_NAME["WEB_PORT"].default
    host: str = settings.BY_NAME["BIND_HOST"].default
    model: Path = settings.BY_NAME["MODEL"].default
    log_dir: Optional[Path] = None
    extra_env: Dict[str, str] = field(default_factory=dict)
    payload_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    #: what nginx or the web server shows Rasa with a patient's address (Rasa trusts no other)
    forwarded_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    #: more Rasa servers (`make cluster`), on these ports; they share the tracker and lock stores
    extra_rasa_ports: Tuple[int, ...] = ()
    #: False runs stock Rasa, without our patches (the starter configuration in `make bench`)
    patched: bool = True
    credentials: Path = ROOT / "bot" / "credentials.yml"
    endpoints: Path = ROOT / "bot" / "endpoints.yml"

    @classmethod
    def from_settings(cls, values: Optional[settings.Settings] = None) -> StackConfig:
        values = values or settings.current()
        return cls(
            rasa_port=values.rasa_port,
            actions_port=values.actions_port,
            web_port=values.web_port,
            host=values.bind_host,
            model=values.model,
        )

    @classmethod
    def free(cls, **overrides: object) -> StackConfig:
        settings = cls(rasa_port=free_port(), actions_port=free_port(), web_port=free_port())
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings

    @property
    def rasa_url(self) -> str:
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def rasa_ports(self) -> Dict[str, int]:
        """Each Rasa server's name and port: `rasa`, then `rasa-2`, `rasa-3`, ..."""
        ports = {"rasa": self.rasa_port}
        ports.update({f"rasa-{n}": port for n, port in enumerate(self.extra_rasa_ports, start=2)})
        return ports

    def rasa_urls(self) -> List[str]:
        return [f"http://{self.host}:{port}" for port in self.rasa_ports.values()]

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def environment(self) -> Dict[str, str]:
        env = settings.child_environment()
        env.setdefault("PAYLOAD_SECRET", self.payload_secret)
        env.setdefault("FORWARDED_SECRET", self.forwarded_secret)
        env.setdefault("SANIC_REQUEST_MAX_SIZE", str(MAX_REQUEST_BYTES))
        env.update(
            {
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
                "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.actions_port}/webhook",
                "RASA_TELEMETRY_ENABLED": "false",
                "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "2"),
                "SANIC_HOST": "127.0.0.1",
            }
        )
        env.update(self.extra_env)
        env["SANIC_FORWARDED_SECRET"] = env["FORWARDED_SECRET"]  # Rasa's Sanic trusts `Forwarded` only with it
        # A conversation's lock outlives a turn, but not half the turn timeout: if the Rasa server
        # holding it dies, the patient's next turn (on another server) waits for it and still fits.
        turn_timeout = settings.Settings.from_environment(env).turn_timeout_seconds
        env["TICKET_LOCK_LIFETIME"] = str(max(1, int(turn_timeout / 2)))
        return env

    def commands(self) -> Dict[str, List[str]]:
        python = sys.executable
        return {
            "actions": [
                python,
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "--port",
                str(self.actions_port),
                "--cors",
                "http://127.0.0.1",
            ],
            **{name: self.rasa_command(port) for name, port in self.rasa_ports.items()},
            "web": [
                python,
                "-m",
                "servers.web",
                "--host",
                self.host,
                "--port",
                str(self.web_port),
                *[arg for url in self.rasa_urls() for arg in ("--rasa", url)],
                *[arg for server in self.values().remote_rasa_servers for arg in ("--rasa", f"http://{server}")],
                "--actions",
                self.actions_url,
            ],
        }

    def rasa_command(self, port: int) -> List[str]:
        return [
            sys.executable,
            "-m",
            "rasa_addons.serve",  # `rasa`, taking RASA_API_TOKEN from the environment, not argv
            *([] if self.patched else ["--stock"]),
            "run",
            "--model",
            str(self.model),
            "--endpoints",
            str(self.endpoints),
            "--credentials",
            str(self.credentials),
            "--interface",
            self.host,
            "--port",
            str(port),
            "--cors",
            *self.cors_origins(),
        ]

    def values(self) -> settings.Settings:
        """The settings as the servers will see them: this stack's own values first, then the environment."""
        return settings.Settings.from_environment(settings.child_environment(**self.extra_env))

    def cors_origins(self) -> List[str]:
        """The clinic origins allowed to call Rasa from a browser (default: the web server's own)."""
        return list(self.values().cors_origins) or [self.web_url]

    def health_urls(self) -> Dict[str, str]:
        return {
            "actions": f"{self.actions_url}/health",
            **{name: f"http://{self.host}:{port}/webhooks/rest/" for name, port in self.rasa_ports.items()},
            "web": f"{self.web_url}/",
        }

    def server_names(self) -> List[str]:
        return ["actions", *self.rasa_ports, "web"]


class StartsAndStops:
    """`with` for a Stack or a Cluster: started and ready inside, everything stopped after (or on failure)."""

    def start_and_wait(self) -> float:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            self.start_and_wait()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Stack(StartsAndStops):
    """The three servers as child processes. Use as a context manager, or start()/stop()."""

    def __init__(self, config: StackConfig, restartable: Tuple[str, ...] = RESTARTABLE) -> None:
        self.config = config
        self.processes: Dict[str, subprocess.Popen] = {}
        self.restartable = restartable
        self.restarts: Dict[str, int] = {name: 0 for name in restartable}

    def _log_file(self, name: str):
        if self.config.log_dir is None:
            return None
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        return open(self.config.log_dir / f"{name}.log", "ab")

    def start_one(self, name: str) -> None:
        log = self._log_file(name)
        self.processes[name] = subprocess.Popen(
            self.config.commands()[name],
            cwd=ROOT,
            env=self.config.environment(),
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,
        )

    def start(self, names: Optional[List[str]] = None) -> Stack:
        if not self.config.model.exists():
            raise FileNotFoundError(f"No trained model at {self.config.model}: run `make train` first.")
        for name in names or self.config.server_names():
            self.start_one(name)
        return self

    def wait_ready(self, names: Optional[List[str]] = None, timeout: Optional[float] = None) -> float:
        timeout = settings.current().ready_timeout if timeout is None else timeout
        started, pending = time.monotonic(), dict(self.config.health_urls())
        pending = {n: u for n, u in pending.items() if n in (names or pending)}
        while pending:
            for name in list(pending):
                process = self.processes.get(name)
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"The {name} server exited with code {process.returncode} while starting.")
                if http_ok(pending[name]):
                    del pending[name]
            if pending and time.monotonic() - started > timeout:
                raise TimeoutError(f"Not ready after {timeout:.0f} s: {', '.join(pending)}")
            if pending:
                time.sleep(0.25)
        return time.monotonic() - started

    def stop_one(self, name: str, timeout: float = 15.0) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop(self) -> None:
        for name in reversed(self.config.server_names()):
            self.stop_one(name)

    def supervise_once(self) -> List[str]:
        """Restarts any restartable server that has died; returns the names restarted."""
        restarted = []
        for name in self.restartable:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                logger.warning("The %s server stopped (exit code %s); restarting it.", name, process.returncode)
                self.start_one(name)
                self.restarts[name] += 1
                restarted.append(name)
        return restarted

    def start_and_wait(self) -> float:
        self.start()
        return self.wait_ready()

    def fatal(self) -> Optional[str]:
        """Why to stop: a Rasa server that stopped and is not restarted (`make run` has just one)."""
        for name in self.config.rasa_ports:
            process = self.processes.get(name)
            if name not in self.restartable and process is not None and process.poll() is not None:
                return f"The Rasa server stopped (exit code {process.returncode})."
        return None


def purge_now(config: StackConfig) -> None:
    """Deletes conversations past their retention (see needlewise/retention.py)."""
    from needlewise.retention import Retention, purge_configured

    try:
        values = config.values()
        deleted = purge_configured(values.tracker_store_url, Retention.from_settings(values))
    except Exception as error:
        logger.error("Purging old conversations failed (%s); will try again.", type(error).__name__)
        return
    if any(deleted.values()):
        logger.info("Purged %(conversations)d old conversations and %(kiosk)d kiosk conversations.", deleted)


class Foreground(Protocol):
    """What `run_in_foreground` runs: a Stack or a Cluster."""

    def start_and_wait(self) -> float: ...

    def supervise_once(self) -> List[str]: ...

    def fatal(self) -> Optional[str]: ...

    def stop(self) -> None: ...


def run_in_foreground(part: Foreground, config: StackConfig, starting: str, ready: Callable[[float], str]) -> int:
    """Starts `part`, prints `ready`, purges old conversations every PURGE_INTERVAL_MINUTES, restarts
    what stops, and stops everything on Ctrl-C, SIGTERM or when the command that started it ends."""
    purge_interval = config.values().purge_interval_minutes * 60
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(starting, flush=True)
    try:
        waited = part.start_and_wait()
    except (RuntimeError, TimeoutError, FileNotFoundError) as error:
        print(f"Needlewise could not start: {error}", file=sys.stderr)
        part.stop()
        return 1
    print(ready(waited), flush=True)
    parent = os.getppid()
    next_purge = time.monotonic()
    try:
        while not stopping:
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + purge_interval
                purge_now(config)
            if os.getppid() != parent:
                print("The command that started Needlewise has stopped; stopping too.", flush=True)
                break
            failure = part.fatal()
            if failure:
                print(failure, file=sys.stderr)
                return 1
            part.supervise_once()
            time.sleep(0.5)
    finally:
        print("Stopping Needlewise ...", flush=True)
        part.stop()
    return 0


def run_foreground(config: StackConfig) -> int:
    def ready(waited: float) -> str:
        return (
            f"\nNeedlewise is ready ({waited:.1f} s).\n"
            f"  Clinic page with the chat widget: {config.web_url}/\n"
            + (f"  Front-desk kiosk:                 {config.web_url}/kiosk.html\n" if KIOSK.exists() else "")
            + f"  Health of every part:             {config.web_url}/health\n"
            f"  Rasa REST channel:                POST {config.rasa_url}/webhooks/rest/webhook\n"
            f"  Action server:                    {config.actions_url}/health\n"
            "Press Ctrl-C to stop.\n"
        )

    starting = "Starting Needlewise: action server, Rasa server and web server ..."
    return run_in_foreground(Stack(config), config, starting, ready)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run"])
    parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return run_foreground(StackConfig.from_settings())


if __name__ == "__main__":
    sys.exit(main())
