"""docs/deploy.md stays true: its commands are `make` targets or commands this file runs, the paths it
names exist, and the files it is built on (deploy/systemd/*, deploy/needlewise.env.example) are sound."""

from __future__ import annotations

import mmap
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from needlewise import settings
from needlewise.settings import ROOT
from tests.test_readme import PATH_LIKE, make_targets

DOC_PATH = ROOT / "docs" / "deploy.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
UNITS = ROOT / "deploy" / "systemd"
ENV_EXAMPLE = ROOT / "deploy" / "needlewise.env.example"
#: Where the unit files expect the checkout (their comments say to change it everywhere if not).
INSTALL_DIR = "/opt/needlewise"
GENERATED = (".venv", "build", "models", "results", "var")
FILE_ENDINGS = (".yml", ".yaml", ".md", ".py", ".txt", ".sh", ".toml", ".html", ".js", ".json")

#: The commands docs/deploy.md may show that are not `make` targets, and why each may: every one is
#: run by `test_the_allowed_commands_run_here` below, so the page never shows one that no test runs.
ALLOWED = {
    ".venv/bin/python -m needlewise.settings": "prints the README's settings table (the page points to it)",
    ".venv/bin/python -m servers.nginx": "prints the nginx configuration `make cluster` writes; starts nothing",
}
#: Programs whose name starts a command: an inline `span` of two or more words starting with one is a command.
PROGRAMS = {
    "make", "python", "python3", ".venv/bin/python", "systemctl", "journalctl", "sudo", "su", "runuser", "apt",
    "apt-get", "dpkg", "git", "curl", "wget", "cp", "mv", "rm", "install", "mkdir", "useradd", "chown", "chmod",
    "pg_dump", "pg_restore", "psql", "sqlite3", "redis-cli", "chromium", "nginx", "certbot", "openssl", "crontab",
    "bash", "sh", "rasa", "pip", "logrotate",
}  # fmt: skip
SHELL_LANGUAGES = ("bash", "sh", "shell", "console")


# --- reading the page ------------------------------------------------------------------------------


def code_blocks() -> List[Tuple[str, str]]:
    """(language, text) of every fenced block (the blocks may be indented under a list item)."""
    return [
        (language, textwrap.dedent(body))
        for language, body in re.findall(r"^[ \t]*```(\w*)\n(.*?)^[ \t]*```$", DOC, flags=re.M | re.S)
    ]


def prose() -> str:
    return re.sub(r"^[ \t]*```\w*\n.*?^[ \t]*```$", "", DOC, flags=re.M | re.S)


def inline_spans() -> List[str]:
    return re.findall(r"`([^`\n]+)`", prose())


def without_assignments(command: str) -> str:
    """`POSTGRES_PORT=5544 make backup` -> `make backup` (settings given to one command)."""
    words = command.split()
    while words and re.fullmatch(r"[A-Z][A-Z0-9_]*=\S*", words[0]):
        words.pop(0)
    return " ".join(words)


def shell_commands() -> List[str]:
    """Each command of the page: the lines of its shell blocks, and inline spans that start with a program."""
    commands = []
    for language, body in code_blocks():
        if language in SHELL_LANGUAGES:
            for line in body.splitlines():
                line = line.strip().removeprefix("$ ")
                if line and not line.startswith("#"):
                    commands.append(line)
    for span in inline_spans():
        command = without_assignments(span)
        if len(command.split()) >= 2 and command.split()[0] in PROGRAMS:
            commands.append(span)
    return commands


def is_make_target(command: str) -> bool:
    """`make <target> [NAME=value ...]`, the target one of the Makefile's."""
    words = without_assignments(command).split()
    return (
        len(words) >= 2
        and words[0] == "make"
        and words[1] in make_targets()
        and all(re.fullmatch(r"[A-Z][A-Z0-9_]*=\S*", word) for word in words[2:])
    )


def named_paths() -> List[str]:
    paths = set()
    for token in re.findall(r"`([^`\s]+)`", DOC):
        if token.startswith(("http", "-", "$", "/", "<")) or "=" in token or "?" in token:
            continue
        if PATH_LIKE.match(token) and ("/" in token or token.endswith(FILE_ENDINGS) or token == "Makefile"):
            paths.add(token.rstrip("/"))
    return sorted(paths)


# --- the page --------------------------------------------------------------------------------------


def test_the_page_shows_commands_at_all():
    commands = shell_commands()
    assert len(commands) >= 6
    assert {"make cluster", "make backup", "make system-deps"} <= set(commands)
    assert any(command.startswith("make restore BACKUP=") for command in commands)


@pytest.mark.parametrize("command", sorted(set(shell_commands())))
def test_every_command_is_a_make_target_or_one_the_suite_runs(command):
    assert is_make_target(command) or command in ALLOWED, (
        f"docs/deploy.md shows `{command}`: make it a make target, or add it to ALLOWED with a test that runs it"
    )


@pytest.mark.parametrize("target", sorted(set(re.findall(r"\bmake ([a-z][a-z-]*)", DOC))))
def test_every_make_command_the_page_names_is_a_target(target):
    assert target in make_targets()


def test_code_blocks_are_commands_or_the_diagram():
    languages = [language for language, _ in code_blocks()]
    assert "text" in languages  # the diagram of what runs where
    assert set(languages) <= {"text", *SHELL_LANGUAGES}, "other blocks would hold commands this test does not read"


def test_the_allowed_commands_are_on_the_page():
    assert set(ALLOWED) <= set(shell_commands()), "drop the entries of ALLOWED the page no longer shows"


@pytest.mark.parametrize("command", sorted(ALLOWED))
def test_the_allowed_commands_run_here(command):
    done = subprocess.run(command.split(), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    if command.endswith("needlewise.settings"):
        assert done.stdout == settings.markdown_table() + "\n"
    else:
        assert "upstream needlewise_rasa" in done.stdout and "<secret>" in done.stdout


def test_the_page_names_paths_at_all():
    assert len(named_paths()) > 15


@pytest.mark.parametrize("path", named_paths())
def test_every_path_the_page_names_exists(path):
    if path.split("/")[0] in GENERATED:
        pytest.skip(f"{path} is made by make")
    assert (ROOT / path).exists(), f"docs/deploy.md names {path}, which does not exist"


def test_the_page_names_every_shipped_deploy_file():
    for path in sorted((ROOT / "deploy").rglob("*")):
        if path.is_file():
            assert str(path.relative_to(ROOT)) in DOC, f"docs/deploy.md does not name {path.relative_to(ROOT)}"


def test_the_page_lists_every_redaction_label():
    code = (ROOT / "needlewise" / "inputs.py").read_text(encoding="utf-8")
    labels = set(re.findall(r'\[([a-z]+)\]"', code))  # the end of a string: "[phone]", ... + "[address]"
    assert {"name", "phone", "address"} <= labels
    missing = sorted(label for label in labels if f"`[{label}]`" not in DOC)
    assert missing == [], "add these labels to the page's list of what redaction replaces"
    assert "Dr. [name]" in DOC


def test_the_settings_the_page_names_are_settings():
    named = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", DOC)) - {"CAP_NET_BIND_SERVICE"}
    assert {"PUBLIC_URL", "RASA_INSTANCES", "TLS_CERT_FILE", "RETENTION_DAYS"} <= named
    assert named - set(settings.BY_NAME) == set()


def test_the_kiosk_flags_are_switches_of_the_installed_chromium():
    section = DOC[DOC.index("## The kiosk device") : DOC.index("\n## ", DOC.index("## The kiosk device") + 1)]
    flags = re.findall(r"`--([a-z0-9-]+)(?:=[^`]*)?`", section)
    assert {"kiosk", "incognito"} <= set(flags)
    binary = Path("/usr/lib/chromium/chromium")
    if not binary.exists():
        pytest.skip("Debian's chromium is not installed (make system-deps)")
    with open(binary, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as program:
        unknown = [flag for flag in flags if program.find(b"\x00" + flag.encode() + b"\x00") < 0]
    assert unknown == [], "Chromium ignores switches it does not know"


# --- the systemd units -----------------------------------------------------------------------------


def parse_unit(path: Path) -> Dict[str, Dict[str, List[str]]]:
    """A unit file as section -> key -> values (a key may repeat); fails on a line outside a section."""
    sections: Dict[str, Dict[str, List[str]]] = {}
    current = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if re.fullmatch(r"\[[A-Za-z]+\]", line):
            current = sections.setdefault(line[1:-1], {})
            continue
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", line)
        assert current is not None and match, f"{path.name}:{number}: {line!r} is not Key=value in a [Section]"
        current.setdefault(match.group(1), []).append(match.group(2).strip())
    return sections


def one(unit: Dict[str, Dict[str, List[str]]], section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, f"{key} is set {len(values)} times"
    return values[0]


def unit_files() -> List[Path]:
    return sorted(UNITS.glob("*.service")) + sorted(UNITS.glob("*.timer"))


def test_the_unit_files_are_there():
    names = [path.name for path in unit_files()]
    assert names == ["needlewise-backup.service", "needlewise.service", "needlewise-backup.timer"]


@pytest.mark.parametrize("path", unit_files(), ids=lambda path: path.name)
def test_every_unit_parses_and_runs_a_module_of_the_repository_as_needlewise(path):
    unit = parse_unit(path)
    assert unit["Unit"]["Description"]
    if path.suffix == ".timer":
        assert set(unit) == {"Unit", "Timer", "Install"}
        assert one(unit, "Timer", "OnCalendar") and one(unit, "Timer", "Persistent") == "true"
        assert one(unit, "Install", "WantedBy") == "timers.target"
        assert (UNITS / path.name.replace(".timer", ".service")).exists()  # the service it starts
        return
    assert one(unit, "Service", "User") == "needlewise"
    assert one(unit, "Service", "WorkingDirectory") == INSTALL_DIR
    assert one(unit, "Service", "EnvironmentFile") == "-/etc/needlewise/needlewise.env"
    python, dash_m, module = one(unit, "Service", "ExecStart").split()
    assert (python, dash_m) == (f"{INSTALL_DIR}/.venv/bin/python", "-m")
    source = ROOT / (module.replace(".", "/") + ".py")
    assert source.exists(), f"ExecStart runs {module}, which is not in the repository"
    assert 'if __name__ == "__main__":' in source.read_text(encoding="utf-8")
    # locked down: everything read-only but var/, which is where the code writes
    assert one(unit, "Service", "ProtectSystem") == "strict"
    assert one(unit, "Service", "ReadWritePaths") == f"{INSTALL_DIR}/var"
    assert one(unit, "Service", "ProtectHome") == "yes" and one(unit, "Service", "PrivateTmp") == "yes"
    assert one(unit, "Service", "NoNewPrivileges") == "yes"


def test_the_main_unit_runs_the_cluster_and_stops_it_cleanly():
    unit = parse_unit(UNITS / "needlewise.service")
    assert one(unit, "Service", "ExecStart").endswith(" -m servers.cluster")
    assert one(unit, "Service", "Restart") == "on-failure"
    # SIGTERM to the main process only; it stops the rest itself (test below), so nothing is killed mid-write
    assert one(unit, "Service", "KillMode") == "mixed" and one(unit, "Service", "KillSignal") == "SIGTERM"
    assert one(unit, "Service", "TimeoutStopSec")
    assert one(unit, "Service", "AmbientCapabilities") == "CAP_NET_BIND_SERVICE"
    assert one(unit, "Service", "CapabilityBoundingSet") == "CAP_NET_BIND_SERVICE"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_the_backup_unit_runs_make_backups_module():
    unit = parse_unit(UNITS / "needlewise-backup.service")
    assert one(unit, "Service", "Type") == "oneshot"
    assert one(unit, "Service", "ExecStart").endswith(" -m tools.backup")
    assert "Install" not in unit  # the timer starts it


def test_the_code_writes_only_where_the_units_allow():
    from servers.cluster import CLUSTER_DIR
    from tools.backup import BACKUP_DIR

    for folder in (CLUSTER_DIR, BACKUP_DIR):
        assert folder.is_relative_to(ROOT / "var")


def test_what_the_unit_comments_name_exists():
    for path in unit_files():
        text = path.read_text(encoding="utf-8")
        for named in re.findall(rf"{INSTALL_DIR}/([\w./*-]+)", text):
            named = named.rstrip(".")
            if named.split("/")[0] in GENERATED:
                continue
            assert list(ROOT.glob(named)), f"{path.name} names {INSTALL_DIR}/{named}, which is not in the repository"
        for target in re.findall(rf"make -C {INSTALL_DIR} ([a-z][a-z-]*)", text):
            assert target in make_targets()


def test_systemd_accepts_the_units(tmp_path):
    binary = shutil.which("systemd-analyze")
    if binary is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    # the same units, with this checkout in place of /opt/needlewise (verify checks that ExecStart exists)
    for path in unit_files():
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8").replace(INSTALL_DIR, str(ROOT)))
    done = subprocess.run(
        [binary, "verify", *(str(tmp_path / path.name) for path in unit_files())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_cluster_stops_everything_on_sigterm(tmp_path):
    """What systemd's stop does (KillMode=mixed): SIGTERM to `python -m servers.cluster` only. Its loop
    must end, stop every part, and exit 0 (a stop is no failure to restart from). The parts are a
    stand-in here; tests/test_cluster.py starts the real ones."""
    script = textwrap.dedent(
        """
        import sys
        import servers.cluster as cluster
        import servers.stack as stack

        class StandIn:
            def __init__(self, config):
                pass
            def start(self):
                return 0.0
            start_and_wait = start
            def supervise_once(self):
                return []
            def fatal(self):
                return None
            def stop(self):
                print("STOPPED", flush=True)

        cluster.Cluster = StandIn
        for module in (cluster, stack):
            if hasattr(module, "purge_now"):
                module.purge_now = lambda config: None
        sys.exit(cluster.run_foreground(cluster.ClusterConfig()))
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=settings.child_environment(TRACKER_STORE_URL=f"sqlite:///{tmp_path / 'never-used.db'}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stdout:
            if line.startswith("Press Ctrl-C"):
                break
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-2000:]
    assert "STOPPED" in out


# --- the example settings file ---------------------------------------------------------------------


def example_settings() -> Dict[str, str]:
    """NAME -> example value of every line `NAME=value` or `#NAME=value`, quotes removed as systemd does."""
    found = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"#?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            found[match.group(1)] = value
    return found


def test_the_example_settings_are_settings_with_valid_values():
    examples = example_settings()
    assert {"PUBLIC_URL", "PUBLIC_PORT", "BIND_HOST", "TLS_CERT_FILE", "TLS_KEY_FILE", "CORS_ORIGINS"} <= set(examples)
    assert set(examples) <= set(settings.BY_NAME)
    values = settings.Settings.from_environment({k: v for k, v in examples.items() if v})  # each one parses
    assert values.public_url.startswith("https://") and values.public_port == 443
    assert values.cors_origins == ("https://www.riverside-physio.example",)


def test_the_example_settings_file_sets_nothing_and_holds_no_secret():
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    assert all(line == "" or line.startswith("#") for line in lines), "every example stays commented out"
    for name in ("PAYLOAD_SECRET", "FORWARDED_SECRET", "RASA_API_TOKEN"):
        assert example_settings().get(name, "") == ""
