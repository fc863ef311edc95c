"""Every setting the code reads from the environment is in the README's settings table."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from tests.test_readme import README

SETTINGS_TABLE = README[README.index("## Settings") : README.index("## Troubleshooting")]
#: Variables set for the tools we run, not settings a clinic chooses.
INTERNAL = {
    "PYTHONPATH",
    "ACTION_ENDPOINT_URL",
    "RASA_URL",
    "SANIC_HOST",
    "SANIC_REQUEST_MAX_SIZE",
    "RASA_TELEMETRY_ENABLED",
    "TF_CPP_MIN_LOG_LEVEL",
    "MODEL",
}


def settings_in_code() -> list:
    names = set()
    for folder in ("actions", "rasa_addons", "scripts", "tests"):
        for file in (ROOT / folder).rglob("*.py"):
            text = file.read_text(encoding="utf-8")
            names |= set(re.findall(r"os\.environ(?:\.get)?[\(\[]\s*\"([A-Z_]+)\"", text))
            names |= set(re.findall(r"env(?:\.get)?\(\s*\"([A-Z_]+)\"", text))
    return sorted(names - INTERNAL)


def test_the_code_reads_settings_at_all():
    assert {"RASA_PORT", "TRACKER_STORE_URL", "RETENTION_DAYS"} <= set(settings_in_code())


@pytest.mark.parametrize("name", settings_in_code())
def test_every_setting_is_in_the_readme(name):
    assert f"`{name}`" in SETTINGS_TABLE, f"{name} is read by the code but not in the README's settings table"


def test_the_api_token_is_added_inside_the_rasa_process_only_when_set():
    from rasa_addons.serve import arguments

    assert arguments(["run", "--port", "5005"], None) == ["run", "--port", "5005"]
    assert arguments(["run"], "") == ["run"]
    assert arguments(["run"], "s3cret") == ["run", "--enable-api", "--auth-token", "s3cret"]
