"""Settings live in one module: every variable, its type, default and meaning; nothing else reads them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from needlewise import settings
from needlewise.settings import ROOT, SETTINGS, SettingError, Settings
from tests.test_readme import README

SETTINGS_TABLE = README[README.index("## Settings") : README.index("## Troubleshooting")]
ENVIRONMENT = {"environ", "getenv", "environb"}
PYTHON_FOLDERS = ("needlewise", "actions", "rasa_addons", "servers", "tools", "tests")


def python_files() -> list:
    return sorted(file for folder in PYTHON_FOLDERS for file in (ROOT / folder).rglob("*.py"))


def reads_environment(tree: ast.AST) -> list:
    """Lines that read os.environ or os.getenv (attribute access or import)."""
    found = []
    for node in ast.walk(tree):
        attribute = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
        if attribute and node.attr in ENVIRONMENT:
            found.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & ENVIRONMENT:
            found.append(node.lineno)
    return sorted(found)


def test_the_scan_finds_environment_reads():
    assert reads_environment(ast.parse("import os\nx = os.environ.get('A')\ny = os.getenv('B')\n")) == [2, 3]
    assert reads_environment(ast.parse("from os import environ\n")) == [1]
    assert reads_environment(ast.parse("import os\nos.path.join('a')\n")) == []


def test_only_the_settings_module_reads_the_environment():
    assert len(python_files()) > 40
    readers = {
        str(file.relative_to(ROOT)): lines
        for file in python_files()
        if (lines := reads_environment(ast.parse(file.read_text(encoding="utf-8"))))
    }
    assert readers == {"needlewise/settings.py": readers.get("needlewise/settings.py")}
    assert readers["needlewise/settings.py"]


def test_the_readme_settings_table_is_the_settings_module():
    table = "\n".join(line for line in SETTINGS_TABLE.splitlines() if line.startswith("|"))
    assert table == settings.markdown_table(), "regenerate it: python -m needlewise.settings"


def test_every_makefile_setting_is_a_setting():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assigned = set(re.findall(r"^([A-Z_]+)\s*\?=", makefile, flags=re.M))
    assert {"RASA_PORT", "KNOWLEDGE_FILE"} <= assigned
    assert assigned <= set(settings.BY_NAME) | {"RELEASE"}


def test_defaults_apply_when_nothing_is_set():
    values = Settings.from_environment({})
    assert values.rasa_port == 5005 and values.max_message_chars == 1000
    assert values.keep_kiosk_conversations is False and values.cors_origins == ()
    assert values.knowledge_file == ROOT / "bot" / "knowledge" / "en.yml"
    assert values.tracker_store_url == f"sqlite:///{ROOT / 'var' / 'conversations.db'}"


def test_values_are_typed_and_relative_paths_are_from_the_repository():
    values = Settings.from_environment(
        {
            "RASA_PORT": "6005",
            "RETENTION_DAYS": "7.5",
            "KEEP_KIOSK_CONVERSATIONS": "YES",
            "CORS_ORIGINS": " https://a.example  https://b.example ",
            "KNOWLEDGE_FILE": "tests/fixtures/knowledge.yml",
            "CHROMIUM": "/opt/chromium",
            "WEB_ACCESS_LOG": "",
        }
    )
    assert values.rasa_port == 6005 and values.retention_days == 7.5
    assert values.keep_kiosk_conversations is True
    assert values.cors_origins == ("https://a.example", "https://b.example")
    assert values.knowledge_file == ROOT / "tests" / "fixtures" / "knowledge.yml"
    assert values.chromium == Path("/opt/chromium")
    assert values.web_access_log is False


@pytest.mark.parametrize("text,expected", [("true", True), ("1", True), ("on", True), ("no", False), ("0", False)])
def test_switches_read_the_usual_words(text, expected):
    assert Settings.from_environment({"KEEP_KIOSK_CONVERSATIONS": text}).keep_kiosk_conversations is expected


def test_a_bad_value_names_the_variable():
    with pytest.raises(SettingError, match="RATE_LIMIT_PER_SENDER='lots'"):
        Settings.from_environment({"RATE_LIMIT_PER_SENDER": "lots"})


def test_settings_round_trip_through_a_child_environment():
    values = Settings.from_environment({"CORS_ORIGINS": "https://a.example https://b.example", "RASA_PORT": "7000"})
    assert Settings.from_environment(values.environment()) == values


def test_the_process_settings_are_read_once_and_reread_after_a_reset(monkeypatch):
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "321")
    settings.current.cache_clear()
    assert settings.current().max_message_chars == 321
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "123")
    assert settings.current().max_message_chars == 321
    settings.current.cache_clear()
    assert settings.current().max_message_chars == 123


def test_every_setting_has_a_description_and_the_table_lists_them_all():
    assert all(setting.description for setting in SETTINGS)
    assert len(settings.markdown_table().splitlines()) == len(SETTINGS) + 2


def test_the_api_token_is_added_inside_the_rasa_process_only_when_set():
    from rasa_addons.serve import arguments

    assert arguments(["run", "--port", "5005"], None) == ["run", "--port", "5005"]
    assert arguments(["run"], "") == ["run"]
    assert arguments(["run"], "s3cret") == ["run", "--enable-api", "--auth-token", "s3cret"]
