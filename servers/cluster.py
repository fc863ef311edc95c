"""`make cluster`: Needlewise as a clinic group or a health system would run it, on one machine.

In the foreground (Ctrl-C stops everything), in this order:
- PostgreSQL, the tracker store every Rasa server shares (data in `var/cluster/postgres`);
- Redis, the lock store and the shared rate limits (`var/cluster/redis`, nothing saved);
- the action server; `RASA_INSTANCES` Rasa servers (ports RASA_PORT, RASA_PORT + 1, ...); the web
  server (on INTERNAL_HOST, 127.0.0.1 by default);
- nginx on `PUBLIC_PORT`, the one entry point (servers/nginx.py), on BIND_HOST.
With TRACKER_STORE_URL or LOCK_STORE_URL set (a PostgreSQL and a Redis that several machines
share), those are used and not started here; REMOTE_RASA_SERVERS adds other machines' Rasa
servers to nginx's.
A server that stops is started again, Rasa servers included: the others answer meanwhile.
The tests and `make bench` use `Cluster` to start the same on free ports.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import List, Optional

from needlewise import settings
from needlewise.settings import ROOT
from servers.nginx import Nginx, NginxConfig
from servers.services import LocalPostgres, LocalRedis, ServiceError
from servers.stack import Stack, StackConfig, StartsAndStops, free_port, http_ok, run_in_foreground

CLUSTER_DIR = ROOT / "var" / "cluster"
logger = logging.getLogger("needlewise.cluster")


@dataclass
class ClusterConfig:
    """Ports and folders of one cluster (by default, from the settings)."""

    folder: Path = CLUSTER_DIR
    public_port: int = 8000
    listen_host: str = "127.0.0.1"
    postgres_port: int = 5433
    redis_port: int = 6380
    stack: StackConfig = field(default_factory=StackConfig)
    #: False: the Rasa servers keep no conversation in memory (TRACKER_CACHE_SIZE=0), to compare
    tracker_cache: bool = True

    @classmethod
    def from_settings(cls) -> ClusterConfig:
        values = settings.current()
        stack = StackConfig.from_settings(values)
        stack.host = values.internal_host  # 127.0.0.1 unless other machines' nginx sends turns here
        stack.extra_rasa_ports = tuple(values.rasa_port + n for n in range(1, values.rasa_instances))
        return cls(
            public_port=values.public_port,
            listen_host=values.bind_host,
            postgres_port=values.postgres_port,
            redis_port=values.redis_port,
            stack=stack,
        )

    @classmethod
    def free(cls, folder: Path, instances: int = 2, **stack_overrides: object) -> ClusterConfig:
        stack = StackConfig.free(**stack_overrides)
        stack.extra_rasa_ports = tuple(free_port() for _ in range(instances - 1))
        ports = {"public_port": free_port(), "postgres_port": free_port(), "redis_port": free_port()}
        return cls(folder=folder, stack=stack, **ports)

    @property
    def public_url(self) -> str:
        """Where this machine reaches nginx (the scheme follows TLS_CERT_FILE)."""
        scheme = "https" if self.stack.values().tls_cert_file else "http"
        every_address = self.listen_host in ("0.0.0.0", "::", "")  # noqa: S104 - naming it, not binding
        host = "127.0.0.1" if every_address else self.listen_host
        return f"{scheme}://{host}:{self.public_port}"


class Cluster(StartsAndStops):
    """The whole cluster as child processes. Use as a context manager, or start()/stop()."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.postgres = LocalPostgres(config.folder / "postgres", config.postgres_port)
        self.redis = LocalRedis(config.folder / "redis", config.redis_port)
        self.stack: Optional[Stack] = None
        self.nginx: Optional[Nginx] = None

    def start_and_wait(self) -> float:
        """Starts everything and waits until /health answers 200; returns the seconds it took."""
        try:
            return self.start()
        except ServiceError as error:
            raise RuntimeError(str(error)) from None

    def fatal(self) -> Optional[str]:
        return None  # every part is started again if it stops

    def start(self) -> float:
        """Starts everything and waits until /health answers 200; returns the seconds it took."""
        started = time.monotonic()
        values = self.config.stack.values()
        # a TRACKER_STORE_URL or LOCK_STORE_URL of its own (shared by several machines) is used as
        # it is; otherwise this machine starts its own PostgreSQL and Redis
        own_store = values.tracker_store_url == settings.BY_NAME["TRACKER_STORE_URL"].default
        tracker_store_url = self.postgres.start() if own_store else values.tracker_store_url
        lock_store_url = values.lock_store_url or self.redis.start()
        stack_config = self.config.stack
        stack_config.extra_env = {
            **stack_config.extra_env,
            "TRACKER_STORE_URL": tracker_store_url,
            "LOCK_STORE_URL": lock_store_url,
            **({} if self.config.tracker_cache else {"TRACKER_CACHE_SIZE": "0"}),
        }
        self.stack = Stack(stack_config, restartable=tuple(stack_config.server_names()))
        self.stack.start()
        self.stack.wait_ready()
        nginx_config = NginxConfig.from_settings(
            self.config.folder / "nginx",
            tuple(stack_config.rasa_ports.values()),
            stack_config.web_port,
            stack_config.environment()["FORWARDED_SECRET"],
            values=stack_config.values(),
        )
        where = {"listen_host": self.config.listen_host, "public_port": self.config.public_port}
        self.nginx = Nginx(replace(nginx_config, **where))
        self.nginx.start()
        deadline = time.monotonic() + 30
        # on this machine only: a clinic's certificate names its host, not 127.0.0.1
        while not http_ok(f"{self.config.public_url}/health", check_certificate=False):
            if self.nginx.process.poll() is not None:
                raise RuntimeError(f"nginx stopped (exit code {self.nginx.process.returncode}).")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.config.public_url}/health is not 200 after the servers started.")
            time.sleep(0.25)
        return time.monotonic() - started

    def stop(self) -> None:
        for part in (self.nginx, self.stack, self.redis, self.postgres):  # each stops only what it started
            if part is not None:
                with contextlib.suppress(Exception):
                    part.stop()

    def supervise_once(self) -> List[str]:
        """Restarts any server that has died (nginx too); returns the names restarted."""
        restarted = self.stack.supervise_once() if self.stack else []
        if self.nginx is not None and self.nginx.process is not None and self.nginx.process.poll() is not None:
            logger.warning("nginx stopped (exit code %s); restarting it.", self.nginx.process.returncode)
            self.nginx.start()
            restarted.append("nginx")
        return restarted


def run_foreground(config: ClusterConfig) -> int:
    def ready(waited: float) -> str:
        url = config.public_url
        return (
            f"\nNeedlewise is ready ({waited:.1f} s), behind nginx on {url}\n"
            f"  Clinic page with the chat widget: {url}/\n"
            f"  Front-desk kiosk:                 {url}/kiosk.html\n"
            f"  Health of every part:             {url}/health\n"
            f"  REST channel:                     POST {url}/webhooks/rest/webhook\n"
            f"  Data and logs:                    {config.folder}\n"
            "Press Ctrl-C to stop.\n"
        )

    instances = len(config.stack.rasa_ports)
    starting = f"Starting Needlewise: PostgreSQL, Redis, actions, {instances} Rasa servers, web and nginx ..."
    return run_in_foreground(Cluster(config), config.stack, starting, ready)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    return run_foreground(ClusterConfig.from_settings())


if __name__ == "__main__":
    sys.exit(main())
