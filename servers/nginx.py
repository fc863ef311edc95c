"""nginx in front of Needlewise: its configuration, generated from the settings, and the process.

nginx is the one entry point (`PUBLIC_PORT`). It serves bot/web with the same security headers
as the web server, passes `/config.json`, `/topics.json`, `/offline.js` and `/health` to the
web server, and spreads the REST channel over the Rasa servers (a server that refuses a
connection is skipped, and the turn goes to another). socket.io connections stay on one Rasa
server per client address (WebSocket upgrade included). Each request to Rasa names the
patient's address in a `Forwarded` header with the stack's secret, the only one Rasa trusts.
Messages a minute per client address are limited here (RATE_LIMIT_PER_CLIENT). The access log
holds method, path, status, which Rasa server and the time taken: no address, no query, no body.

`python -m servers.nginx` prints the configuration `make cluster` would run (see docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

from needlewise import settings
from servers.web import WEB_DIR, security_headers

#: With TLS: browsers keep to HTTPS for a year.
HSTS = "max-age=31536000"
#: What nginx proxies to the web server; everything else is a file of bot/web.
WEB_SERVER_PATHS = ("config.json", "topics.json", "offline.js", "health")
TEMP_FOLDERS = ("body", "proxy", "fastcgi", "uwsgi", "scgi")


@dataclass(frozen=True)
class NginxConfig:
    listen_host: str
    public_port: int
    rasa_ports: Sequence[int]  # this machine's Rasa servers (127.0.0.1)
    web_port: int
    forwarded_secret: str
    folder: Path  # its pid file, logs and temporary files
    public_url: str = ""
    frame_ancestors: str = "'self'"
    rate_per_client: int = 600
    turn_timeout_seconds: float = 30.0
    web_dir: Path = WEB_DIR
    worker_user: Optional[str] = None  # when started as root: the user its workers run as
    tls_cert_file: Optional[Path] = None  # with tls_key_file: HTTPS on public_port, and HSTS
    tls_key_file: Optional[Path] = None
    remote_rasa_servers: Sequence[str] = ()  # `host:port` of Rasa servers on other machines
    local_host: str = "127.0.0.1"  # where this machine's Rasa and web servers listen (INTERNAL_HOST)

    @property
    def rasa_servers(self) -> Tuple[str, ...]:
        return (*(f"{self.local_host}:{port}" for port in self.rasa_ports), *self.remote_rasa_servers)

    @property
    def tls(self) -> bool:
        return self.tls_cert_file is not None and self.tls_key_file is not None

    @classmethod
    def from_settings(
        cls,
        folder: Path,
        rasa_ports: Sequence[int],
        web_port: int,
        forwarded_secret: str,
        values: Optional[settings.Settings] = None,
    ) -> NginxConfig:
        values = values or settings.current()
        return cls(
            listen_host=values.bind_host,
            public_port=values.public_port,
            rasa_ports=tuple(rasa_ports),
            web_port=web_port,
            forwarded_secret=forwarded_secret,
            folder=Path(folder),
            public_url=values.public_url,
            frame_ancestors=values.frame_ancestors,
            rate_per_client=values.rate_limit_per_client,
            turn_timeout_seconds=values.turn_timeout_seconds,
            worker_user=default_worker_user(Path(folder)),
            tls_cert_file=values.tls_cert_file,
            tls_key_file=values.tls_key_file,
            remote_rasa_servers=values.remote_rasa_servers,
            local_host=values.internal_host,
        )


def _open_to_others(path: Path) -> bool:
    """True if a user with no special rights can reach `path` (every folder above it searchable by others)."""
    path = Path(path).resolve()
    return all(os.stat(folder).st_mode & 0o001 for folder in [*reversed(path.parents), path] if folder.is_dir())


def default_worker_user(*reached: Path) -> Optional[str]:
    """As root, nginx's workers run as Debian's `www-data` (or `nobody`) if they can reach `reached`
    (bot/web, and nginx's own folder); if a folder above them is private (a clone in a private
    home or temp folder), as the owner of the files instead. Not root: as whoever runs it."""
    if os.geteuid() != 0:
        return None
    if not all(_open_to_others(path) for path in (WEB_DIR, *reached)):
        return pwd.getpwuid(os.stat(WEB_DIR).st_uid).pw_name
    for name in ("www-data", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(config: NginxConfig) -> str:
    """The whole nginx.conf, self-contained but for Debian's mime.types."""
    folder = config.folder.resolve()
    hsts = {"Strict-Transport-Security": HSTS} if config.tls else {}
    headers = "".join(
        f"            add_header {name} {_quoted(value)} always;\n"
        for name, value in {**security_headers(config.public_url, config.frame_ancestors), **hsts}.items()
    )
    web_headers = "".join(f"            add_header {name} {_quoted(value)} always;\n" for name, value in hsts.items())
    listen = f"{config.listen_host}:{config.public_port}"
    if config.tls:
        listen = (
            f"{listen} ssl;\n        ssl_certificate {config.tls_cert_file};\n"
            f"        ssl_certificate_key {config.tls_key_file};\n"
            "        ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_prefer_server_ciphers off;\n"
            "        ssl_session_cache shared:needlewise_tls:10m;\n        ssl_session_timeout 1d"
        )
    rasa = "".join(f"        server {server} max_fails=1 fail_timeout=5s;\n" for server in config.rasa_servers)
    limit_zone = limit = ""
    if config.rate_per_client > 0:
        zone = "zone=needlewise_clients"
        limit_zone = f"    limit_req_zone $binary_remote_addr {zone}:10m rate={config.rate_per_client}r/m;\n"
        burst = max(10, config.rate_per_client // 6)
        limit = f"            limit_req {zone} burst={burst} nodelay;\n            limit_req_status 429;\n"
    temp = "".join(
        f"    {'client_body' if name == 'body' else name}_temp_path {folder / 'temp' / name};\n"
        for name in TEMP_FOLDERS
    )
    timeout = int(config.turn_timeout_seconds + 15)
    web_paths = "|".join(path.replace(".", r"\.") for path in WEB_SERVER_PATHS)
    forwarded = f"for=$needlewise_for;secret={config.forwarded_secret}"
    return f"""# Generated by servers/nginx.py from Needlewise's settings: edit the settings, not this file.
{f"user {config.worker_user};" if config.worker_user else "# (workers run as the user who starts nginx)"}
worker_processes 1;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "logs" / "error.log"} warn;

events {{
    worker_connections 1024;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    charset utf-8;
    charset_types text/css application/javascript text/javascript application/json;
    server_tokens off;
    sendfile on;
    keepalive_timeout 65;
    client_max_body_size 1m;
    client_body_buffer_size 1m;
{temp}
    # no client address, no query string, no body: patients' words never reach this log
    log_format needlewise '$time_iso8601 $request_method $uri $status $upstream_addr $request_time';
    access_log {folder / "logs" / "access.log"} needlewise;
{limit_zone}
    # an IPv6 address is quoted in a Forwarded header (RFC 7239)
    map $remote_addr $needlewise_for {{
        ~^[0-9.]+$ $remote_addr;
        default "\\"[$remote_addr]\\"";
    }}
    map $http_upgrade $needlewise_connection {{
        default upgrade;
        "" close;
    }}

    upstream needlewise_rasa {{
{rasa}        keepalive 32;
    }}
    # socket.io: one client stays on one Rasa server (its session lives there)
    upstream needlewise_rasa_socketio {{
        hash $remote_addr consistent;
{rasa}    }}
    upstream needlewise_web {{
        server {config.local_host}:{config.web_port};
        keepalive 8;
    }}

    server {{
        listen {listen};
        server_name _;
        root {config.web_dir.resolve()};
        index index.html;
        disable_symlinks on;

        location / {{
{headers}            try_files $uri $uri/ =404;
        }}
        location ~ /\\. {{
            return 404;
        }}
        location ~ ^/({web_paths})$ {{
{web_headers}            proxy_pass http://needlewise_web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header Forwarded "{forwarded}";
        }}
        # the staff report: the web server asks for the staff token; never cached
        location ^~ /staff/ {{
{web_headers}            proxy_pass http://needlewise_web;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
        location /webhooks/ {{
{headers}{limit}            proxy_pass http://needlewise_rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header Forwarded "{forwarded}";
            proxy_set_header X-Forwarded-For "";
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout {timeout}s;
        }}
        location /socket.io/ {{
{web_headers}{limit}            proxy_pass http://needlewise_rasa_socketio;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $needlewise_connection;
            proxy_set_header Host $host;
            proxy_set_header Forwarded "{forwarded}";
            proxy_set_header X-Forwarded-For "";
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


class Nginx:
    """nginx as a child process (in the foreground), with its configuration written to `folder`."""

    def __init__(self, config: NginxConfig) -> None:
        self.config = config
        self.process: Optional[subprocess.Popen] = None

    @property
    def conf_path(self) -> Path:
        return self.config.folder / "nginx.conf"

    def write(self) -> Path:
        folder = self.config.folder
        for sub in ["logs", *(f"temp/{name}" for name in TEMP_FOLDERS)]:
            (folder / sub).mkdir(parents=True, exist_ok=True)
        if self.config.worker_user:
            for name in TEMP_FOLDERS:
                shutil.chown(folder / "temp" / name, self.config.worker_user)
        self.conf_path.write_text(render(self.config), encoding="utf-8")
        os.chmod(self.conf_path, 0o600)  # it holds the forwarded secret
        return self.conf_path

    def command(self, *extra: str) -> list:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise FileNotFoundError("nginx is not installed: run scripts/system_deps.sh (Debian package nginx).")
        return [binary, "-c", str(self.conf_path.resolve()), "-p", str(self.config.folder.resolve()), *extra]

    def check(self) -> None:
        """`nginx -t`: raises with nginx's own words if the configuration is wrong."""
        done = subprocess.run(self.command("-t", "-q"), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"nginx refused its configuration: {done.stderr.strip()}")

    def start(self) -> None:
        self.write()
        self.check()
        self.process = subprocess.Popen(self.command(), start_new_session=True)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)  # graceful: finishes the requests in flight
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    values = settings.current()
    ports = [values.rasa_port + n for n in range(values.rasa_instances)]
    config = NginxConfig.from_settings(settings.ROOT / "var" / "cluster" / "nginx", ports, values.web_port, "<secret>")
    print(render(config), end="")


if __name__ == "__main__":
    main()
