"""The web server in every language it serves: /config.json, /topics.json and /offline.js take `?lang=`.

The app runs over the fixture knowledge and strings files with stand-in translations beside them
(tests/conftest.py `write_translations`): what each answer must hold is computed from the same files
(`fixture_locales`), never from the shipped content.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from needlewise.knowledge import CATEGORIES
from needlewise.locales import Locales
from needlewise.settings import ROOT
from needlewise.strings import PAGE_GROUPS
from tests.conftest import fixture_locales, write_translations

CLINIC_SITE = "https://www.clinic.example"


def languages_of(folder: Path) -> Locales:
    english = folder / "en.yml"
    return fixture_locales(english, english.with_name("en.strings.yml"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """English, Portuguese (pt-BR) and Arabic stand-ins of the fixture files."""
    return write_translations(tmp_path_factory.mktemp("knowledge")).parent


@pytest.fixture(scope="module")
def expected(folder: Path) -> Locales:
    """The same files read on their own: what the web server must hand out."""
    return languages_of(folder)


@pytest.fixture(scope="module")
def client(folder: Path):
    from servers.web import create_app

    return create_app(allowed_origins=[CLINIC_SITE], locales=languages_of(folder)).test_client


def get(client, path: str, **headers: str):
    _, reply = client.get(path, headers=headers)
    return reply


def script_values(reply) -> dict:
    """`window.Name = {json};` lines of a script -> {Name: value}."""
    values = {}
    for line in reply.body.decode().splitlines():
        name, _, value = line.partition(" = ")
        assert name.startswith("window.") and value.endswith(";"), line
        values[name[len("window.") :]] = json.loads(value[:-1])
    return values


def test_the_fixture_folder_serves_three_languages(expected: Locales) -> None:
    assert [locale.tag for locale in expected.served()] == ["en", "ar", "pt-BR"]


@pytest.mark.parametrize(
    ("asked", "served"), [("pt-BR", "pt-BR"), ("pt", "pt-BR"), ("pt-PT", "pt-BR"), ("ar", "ar"), ("AR-ae", "ar")]
)
def test_config_json_is_in_the_language_asked_for(client, expected: Locales, asked: str, served: str) -> None:
    config = get(client, f"/config.json?lang={asked}").json
    locale = expected.get(served)
    ui, kb = locale.ui(), locale.knowledge_base()
    values = kb.clinic.placeholders()
    assert config["language"] == served == locale.tag
    assert config["dir"] == ("rtl" if served == "ar" else "ltr")
    assert config["strings"] == {group: ui.group(group, values) for group in PAGE_GROUPS}
    assert config["evidenceLevels"] == ui.evidence_levels(values)
    assert config["clinic"]["name"] == kb.clinic.name


@pytest.mark.parametrize("query", ["", "?lang=", "?lang=fr", "?lang=not a language", "?lang=" + "x" * 100])
def test_without_a_served_language_config_json_is_in_the_default_language(
    client, expected: Locales, query: str
) -> None:
    config = get(client, f"/config.json{query}").json
    ui = expected.default.ui()
    assert config["language"] == config["defaultLanguage"] == "en"
    assert config["dir"] == "ltr"
    assert config["strings"]["widget"] == ui.group("widget", expected.default.knowledge_base().clinic.placeholders())


@pytest.mark.parametrize("asked", ["en", "pt", "ar"])
def test_config_json_lists_every_served_language_by_its_own_name(client, expected: Locales, asked: str) -> None:
    config = get(client, f"/config.json?lang={asked}").json
    assert config["defaultLanguage"] == expected.default.tag
    assert config["languages"] == [
        {
            "code": locale.tag,
            "name": locale.ui().text("client", "language_name"),
            "dir": "rtl" if locale.key == "ar" else "ltr",
        }
        for locale in expected.served()
    ]
    names = [language["name"] for language in config["languages"]]
    assert len(set(names)) == len(names), "each language has its own name"


@pytest.mark.parametrize("asked", ["pt", "ar"])
def test_topics_json_has_the_tiles_of_the_language_asked_for(client, expected: Locales, asked: str) -> None:
    tiles = get(client, f"/topics.json?lang={asked}").json
    locale = expected.get(asked)
    ui, kb = locale.ui(), locale.knowledge_base()
    english = expected.default.knowledge_base()
    assert [c["id"] for c in tiles["categories"]] == list(CATEGORIES)
    for category in tiles["categories"]:
        assert category["title"] == ui.text("categories", category["id"], kb.clinic.placeholders())
        assert [t["id"] for t in category["topics"]] == kb.topics_in(category["id"])
        for topic in category["topics"]:
            assert topic["title"] == kb.fill(kb.entry(topic["id"]).title)
            assert topic["title"] != english.fill(english.entry(topic["id"]).title)
            # the same signed payload in every language: the bot answers it in the page's language
            assert topic["payload"] == f"/{topic['id']}" and topic["token"]
    assert get(client, "/topics.json?lang=fr").json == get(client, "/topics.json").json


@pytest.mark.parametrize(("asked", "served"), [("", "en"), ("pt-BR", "pt-BR"), ("ar", "ar"), ("fr", "en")])
def test_offline_js_gives_the_words_of_the_language_asked_for(
    client, expected: Locales, asked: str, served: str
) -> None:
    reply = get(client, f"/offline.js?lang={asked}" if asked else "/offline.js")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/javascript")
    values = script_values(reply)
    assert values["NeedlewiseOffline"] == expected.get(served).ui().group("offline", {})
    if asked:  # a page that asks for a language is told which one the words are in
        assert values["NeedlewiseOfflineLanguage"] == {"lang": served, "dir": "rtl" if served == "ar" else "ltr"}
    else:  # as before languages: the one line, in the default language
        assert set(values) == {"NeedlewiseOffline"}


@pytest.mark.parametrize("path", ["/config.json?lang=ar", "/topics.json?lang=pt"])
def test_the_clinics_site_may_read_every_language_and_no_other_site(client, path: str) -> None:
    allowed = get(client, path, origin=CLINIC_SITE)
    other = get(client, path, origin="https://elsewhere.example")
    assert allowed.headers.get("Access-Control-Allow-Origin") == CLINIC_SITE
    assert "Access-Control-Allow-Origin" not in other.headers
    assert allowed.headers.get("Vary") == "Origin"
    assert allowed.headers.get("Cache-Control") == "no-cache"
    assert "script-src 'self'" in allowed.headers.get("Content-Security-Policy", "")


def test_a_broken_translation_is_not_offered_and_its_patients_get_the_default(tmp_path: Path) -> None:
    from servers.web import create_app

    folder = write_translations(tmp_path).parent
    (folder / "ar.yml").write_text("- not a knowledge file\n", encoding="utf-8")
    client = create_app(locales=languages_of(folder)).test_client
    config = get(client, "/config.json?lang=ar").json
    assert config["language"] == "en" and config["dir"] == "ltr"
    assert [language["code"] for language in config["languages"]] == ["en", "pt-BR"]
    assert get(client, "/topics.json?lang=ar").json == get(client, "/topics.json").json


def test_an_edited_strings_file_is_picked_up_while_the_server_runs(tmp_path: Path) -> None:
    from servers.web import create_app

    folder = write_translations(tmp_path).parent
    client = create_app(locales=languages_of(folder)).test_client
    before = get(client, "/config.json?lang=pt").json
    strings = folder / "pt.strings.yml"
    text = strings.read_text(encoding="utf-8")
    old = before["languages"][2]["name"]
    assert text.count(old) == 1
    strings.write_text(text.replace(old, "[pt-BR] Edited name"), encoding="utf-8")
    after = get(client, "/config.json?lang=pt").json
    assert after["languages"][2] == {"code": "pt-BR", "name": "[pt-BR] Edited name", "dir": "ltr"}
    assert get(client, "/config.json").json["languages"][2]["name"] == "[pt-BR] Edited name"


def test_the_health_report_and_staff_pages_still_use_the_default_language(client) -> None:
    reply = get(client, "/health")
    assert reply.json["components"]["knowledge"]["ok"] is True


# --- the pages' styles mirror for right-to-left languages --------------------------------------------

#: Physical left/right properties: a layout written with them does not mirror in Arabic.
PHYSICAL = re.compile(
    r"(?<![\w-])(?:(?:margin|padding|border)-(?:left|right)(?:-[a-z]+)?|left|right"
    r"|border-(?:top|bottom)-(?:left|right)-radius)\s*:|text-align\s*:\s*(?:left|right)|float\s*:\s*(?:left|right)"
)


@pytest.mark.parametrize("name", ["widget.css", "kiosk.css"])
def test_the_pages_styles_use_logical_properties_so_they_mirror_right_to_left(name: str) -> None:
    css = re.sub(r"/\*.*?\*/", "", (ROOT / "bot" / "web" / name).read_text(encoding="utf-8"), flags=re.S)
    found = [match.group(0) for match in PHYSICAL.finditer(css)]
    assert not found, f"{name} uses physical left/right properties: {found}"
