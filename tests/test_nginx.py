"""nginx in front (servers/nginx.py): the configuration it is given, and Debian's nginx running it
in front of the real test stack: HTTPS with a certificate, and the per-address rate limit."""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from servers.nginx import HSTS, Nginx, NginxConfig, default_worker_user, render
from servers.services import shared_temp_folder
from servers.stack import free_port
from servers.web import security_headers


@pytest.fixture
def folder():
    path = shared_temp_folder("needlewise-nginx-")  # nginx's workers (www-data when we are root) enter it
    yield path
    shutil.rmtree(path, ignore_errors=True)


def config_for(folder: Path, rasa_ports=(5005, 5006), web_port=8080, **overrides) -> NginxConfig:
    values = dict(
        listen_host="127.0.0.1",
        public_port=free_port(),
        rasa_ports=tuple(rasa_ports),
        web_port=web_port,
        forwarded_secret="s3cret",
        folder=folder,
        worker_user=default_worker_user(folder),
    )
    values.update(overrides)
    return NginxConfig(**values)


def certificate(folder: Path) -> tuple:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_nginx_accepts_the_configuration_with_and_without_tls(folder):
    cert, key = certificate(folder)
    for config in (config_for(folder), config_for(folder, tls_cert_file=cert, tls_key_file=key)):
        Nginx(config).write()
        Nginx(config).check()  # `nginx -t`: raises with nginx's words if anything is wrong


def test_the_configuration_follows_the_settings(folder):
    plain = render(config_for(folder, rasa_ports=(5101, 5102, 5103), rate_per_client=120))
    assert "ssl" not in plain and "Strict-Transport-Security" not in plain
    assert all(f"server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" in plain for port in (5101, 5102, 5103))
    assert "rate=120r/m" in plain and "limit_req_status 429" in plain
    assert 'Forwarded "for=$needlewise_for;secret=s3cret"' in plain
    assert "$remote_addr" not in plain.split("log_format needlewise", 1)[1].split(";", 1)[0]  # no address logged
    machines = {"local_host": "10.0.0.5", "remote_rasa_servers": ("10.0.0.6:5005",)}
    spread = render(config_for(folder, rasa_ports=(5101,), **machines))
    assert "server 10.0.0.5:5101 max_fails" in spread and "server 10.0.0.6:5005 max_fails" in spread
    assert "server 10.0.0.5:8080;" in spread  # the web server, where this machine's servers listen
    unlimited = render(config_for(folder, rate_per_client=0))
    assert "limit_req" not in unlimited
    public = render(config_for(folder, public_url="https://chat.clinic.example"))
    assert security_headers("https://chat.clinic.example", "'self'")["Content-Security-Policy"] in public


def test_https_at_nginx_in_front_of_the_real_servers(stack, folder):
    cert, key = certificate(folder)
    config = config_for(
        folder,
        rasa_ports=[stack.config.rasa_port],
        web_port=stack.config.web_port,
        forwarded_secret=stack.config.environment()["FORWARDED_SECRET"],
        tls_cert_file=cert,
        tls_key_file=key,
    )
    nginx = Nginx(config)
    nginx.start()
    try:
        base = f"https://127.0.0.1:{config.public_port}"
        wait_until_up(f"{base}/", verify=str(cert))
        page = requests.get(f"{base}/", verify=str(cert), timeout=10)
        assert page.status_code == 200 and page.headers["Strict-Transport-Security"] == HSTS
        assert page.headers["Content-Security-Policy"] == security_headers("", "'self'")["Content-Security-Policy"]
        health = requests.get(f"{base}/health", verify=str(cert), timeout=10)
        assert health.status_code == 200 and health.headers["Strict-Transport-Security"] == HSTS
        reply = requests.post(
            f"{base}/webhooks/rest/webhook",
            json={"sender": "tls-patient", "message": "hello"},
            verify=str(cert),
            timeout=30,
        )
        assert reply.status_code == 200 and any("custom" in m for m in reply.json())
        plain = requests.get(f"http://127.0.0.1:{config.public_port}/", timeout=5)
        assert plain.status_code == 400 and "Needlewise" not in plain.text  # no page over plain HTTP
    finally:
        nginx.stop()


def wait_until_up(url: str, verify: object = True) -> None:
    for _ in range(100):
        try:
            requests.get(url, verify=verify, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail(f"nginx did not answer at {url}")


def test_nginx_limits_messages_per_client_address(stack, folder):
    config = config_for(folder, rasa_ports=[stack.config.rasa_port], web_port=stack.config.web_port, rate_per_client=60)
    nginx = Nginx(config)
    nginx.start()
    try:
        url = f"http://127.0.0.1:{config.public_port}/webhooks/rest/"
        wait_until_up(f"http://127.0.0.1:{config.public_port}/")
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: requests.get(url, timeout=10).status_code, range(30)))
        assert statuses.count(200) >= 10  # the burst goes through
        assert statuses.count(429) >= 5  # then the address waits
    finally:
        nginx.stop()
