"""The strings file (needlewise/strings.py): the widget's, kiosk's and replies' own wording.

Everything here reads the fixture `tests/fixtures/en.strings.yml` (and broken copies of it made in
`tmp_path`), never the shipped file. Every refusal names the file, the line and the key, as the
knowledge loader's do; `make check-knowledge` also grades the strings' sentences.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Optional

import pytest
import yaml

from needlewise import replies, strings
from needlewise.dialogue import History, Turn, decide
from needlewise.knowledge import CATEGORIES, EVIDENCE_LEVELS, PLACEHOLDERS, KnowledgeFileError, KnowledgeStore
from needlewise.locales import Locales
from needlewise.strings import KEYS, PAGE_GROUPS, StringsStore, UiStrings, load_strings
from tests.conftest import FIXTURE_CLINIC, FIXTURE_STRINGS, FIXTURE_TOPICS
from tools import check_knowledge
from tools.readability import grade

TEXT = FIXTURE_STRINGS.read_text(encoding="utf-8")
RAW = yaml.safe_load(TEXT)
HARD = (
    "Intramuscular stimulation of myofascial trigger points necessitates comprehensive anatomical "
    "understanding, particularly regarding neurovascular structures and pleural proximity."
)


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, f"{needle!r} must occur exactly once"
    return text[: text.index(needle)].count("\n") + 1


def write(tmp_path: Path, text: str, name: str = "en.strings.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def refusal(path: Path) -> KnowledgeFileError:
    with pytest.raises(KnowledgeFileError) as info:
        load_strings(path)
    return info.value


def the_problem(error: KnowledgeFileError, key: str):
    found = [p for p in error.problems if p.field == key]
    assert len(found) == 1, f"expected one problem for {key}, got:\n{error}"
    return found[0]


def assert_located(error: KnowledgeFileError, path: Path, key: str, line: Optional[int], says: str) -> None:
    """The problem names the file, the line and the key, and the exception's message shows them."""
    problem = the_problem(error, key)
    assert (problem.file, problem.line, problem.field) == (str(path), line, key)
    assert says in problem.message
    where = f"{path}:{line}" if line else str(path)
    assert f"{where}: field '{key}': " in str(error)


@pytest.fixture
def ui() -> UiStrings:
    return load_strings(FIXTURE_STRINGS)


# --- loading --------------------------------------------------------------------------------------


def test_the_fixture_has_every_key_the_code_needs_and_nothing_else(ui: UiStrings) -> None:
    assert ui.language == "en" and ui.source == str(FIXTURE_STRINGS)
    assert {group: set(texts) for group, texts in ui.groups.items()} == {g: set(k) for g, k in KEYS.items()}
    assert set(KEYS["categories"]) == set(CATEGORIES)
    assert len(KEYS["evidence_levels"]) == len(EVIDENCE_LEVELS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", key) for keys in KEYS.values() for key in keys), "snake_case"
    assert ui.lines["widget.send"] == line_of(TEXT, "  send: ")


def test_clinic_placeholders_are_filled_and_the_pages_own_are_kept(ui: UiStrings, kb) -> None:
    values = kb.clinic.placeholders()
    assert kb.clinic.name in ui.text("widget", "welcome", values)
    assert "{clinic_name}" in ui.text("widget", "welcome")
    assert ui.text("client", "call_button", values) == RAW["client"]["call_button"]  # {number}: the page's
    idle = ui.text("kiosk", "idle_text", values)
    assert "{seconds}" in idle and "{" not in idle.replace("{seconds}", "")
    assert ui.evidence_levels(values)["low-to-moderate"] == RAW["evidence_levels"]["low_to_moderate"]
    assert list(ui.evidence_levels(values)) == list(EVIDENCE_LEVELS)


def test_a_missing_string_is_refused_with_its_group_line_and_key(tmp_path: Path) -> None:
    text = replace_once(TEXT, "  send: Send\n", "")
    path = write(tmp_path, text)
    group_line = line_of(text, "\nwidget:\n") + 1  # as the knowledge file names a missing message
    assert_located(refusal(path), path, "widget.send", group_line, "this string is missing")


def test_an_unknown_string_is_refused_with_its_line(tmp_path: Path) -> None:
    text = replace_once(TEXT, "  send: Send\n", "  send: Send\n  sned: Send\n")
    path = write(tmp_path, text)
    assert_located(refusal(path), path, "widget.sned", line_of(text, "  sned:"), "not known (check its spelling)")


def test_an_unknown_placeholder_is_refused_with_its_line_and_the_known_ones(tmp_path: Path) -> None:
    text = replace_once(TEXT, "call {clinic_name} on {phone}.", "call {clinic_name} on {phnoe}.")
    path = write(tmp_path, text)
    error = refusal(path)
    assert_located(error, path, "client.error_call", line_of(text, "{phnoe}"), "unknown placeholder '{phnoe}'")
    known = the_problem(error, "client.error_call").message
    assert all("{" + name + "}" in known for name in PLACEHOLDERS)


def test_a_placeholder_of_another_string_is_unknown_here(tmp_path: Path) -> None:
    """{seconds} belongs to the kiosk's countdown; the page fills nothing else in."""
    text = replace_once(TEXT, "  send: Send\n", "  send: Send in {seconds}\n")
    path = write(tmp_path, text)
    assert_located(refusal(path), path, "widget.send", line_of(text, "  send:"), "unknown placeholder '{seconds}'")


def test_a_string_must_keep_the_placeholder_its_page_fills_in(tmp_path: Path) -> None:
    text = replace_once(TEXT, "clear in {seconds} seconds.", "clear soon.")
    path = write(tmp_path, text)
    assert_located(refusal(path), path, "kiosk.idle_text", line_of(text, "clear soon."), "must contain {seconds}")


def test_the_last_resort_takes_no_placeholders(tmp_path: Path) -> None:
    """It is said when the clinic file may be unreadable, so nothing can be filled in."""
    text = replace_once(TEXT, "call your local emergency number now.", "call {emergency_number} now.")
    path = write(tmp_path, text)
    error = refusal(path)
    assert_located(error, path, "safety_net.last_resort", line_of(text, "last_resort:"), "no {placeholders} here")


@pytest.mark.parametrize(
    ("old", "new", "key", "says"),
    [
        ("\nkiosk:\n", "\nkoisk:\n", "koisk", "this group is not known"),
        ("  send: Send\n", "  send: ''\n", "widget.send", "must be text, not empty"),
        ("  send: Send\n", "  send: [Send]\n", "widget.send", "must be text, not empty"),
        ("version: 1\n", "version: 2\n", "version", "must be 1"),
        ("language: en\n", "language: English\n", "language", "a language code"),
    ],
)
def test_other_mistakes_are_refused_with_their_line(tmp_path: Path, old: str, new: str, key: str, says: str) -> None:
    text = replace_once(TEXT, old, new)
    path = write(tmp_path, text)
    assert_located(refusal(path), path, key, line_of(text, new.strip("\n")), says)


def test_a_missing_group_is_named(tmp_path: Path) -> None:
    start = TEXT.index("\nkiosk:\n")
    path = write(tmp_path, TEXT[:start] + "\n")
    assert_located(refusal(path), path, "kiosk", None, "this group is missing")


def test_broken_yaml_names_its_line(tmp_path: Path) -> None:
    text = replace_once(TEXT, "  send: Send\n", "  send: Send: now\n")
    path = write(tmp_path, text)
    problem = refusal(path).problems[0]
    assert problem.file == str(path) and problem.line == line_of(text, "  send: Send: now")
    assert "not valid YAML" in problem.message


# --- the live store ---------------------------------------------------------------------------------


def _touch(path: Path, step: int) -> None:
    stamp = path.stat().st_mtime_ns + step * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_the_store_reloads_an_edit_and_keeps_the_last_good_version(tmp_path: Path) -> None:
    path = write(tmp_path, TEXT)
    store = StringsStore(path)
    assert isinstance(store, KnowledgeStore), "the knowledge file's own mechanism"
    first = store.get()
    assert store.get() is first
    path.write_text(replace_once(TEXT, "  send: Send\n", "  send: Send now\n"), encoding="utf-8")
    _touch(path, 1)
    second = store.get()
    assert second.text("widget", "send") == "Send now" and store.last_error is None

    broken = replace_once(TEXT, "  send: Send\n", "  send: Send {phnoe}\n")
    path.write_text(broken, encoding="utf-8")
    _touch(path, 2)
    assert store.get() is second, "a broken edit is refused; the last good version keeps serving"
    assert store.last_error.problems[0].line == line_of(broken, "{phnoe}")
    path.unlink()
    assert store.get() is second


def test_a_store_that_never_read_a_good_file_says_why(tmp_path: Path) -> None:
    store = StringsStore(tmp_path / "missing.strings.yml")
    with pytest.raises(KnowledgeFileError, match="does not exist"):
        store.get()


def test_the_setting_picks_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, replace_once(TEXT, "  send: Send\n", "  send: Go\n"))
    monkeypatch.setenv("STRINGS_FILE", str(path))
    strings.settings.current.cache_clear()
    assert strings.current().text("widget", "send") == "Go"
    assert strings.store() is strings.store(path)


# --- who reads them -------------------------------------------------------------------------------


def test_the_feedback_buttons_come_from_the_strings_file(kb, ui: UiStrings) -> None:
    question = replies.feedback_question(kb)
    assert [b["title"] for b in question["buttons"]] == [
        ui.text("replies", "feedback_yes"),
        ui.text("replies", "feedback_no"),
    ]


def test_the_front_desk_button_comes_from_the_strings_file(kb, ui: UiStrings) -> None:
    reply = decide(kb, Turn("feedback_not_helpful"), History())
    buttons = [b for m in reply for b in m.get("buttons", [])]
    assert [(b["title"], b["payload"]) for b in buttons] == [(ui.text("replies", "talk_to_front_desk"), "/ask_human")]


def test_the_web_server_hands_the_pages_their_words_filled_in(kb, ui: UiStrings) -> None:
    from servers.web import page_config, topic_tiles

    config = page_config(kb, ui, "http://127.0.0.1:5005")
    assert config["language"] == "en"
    assert set(config["strings"]) == set(PAGE_GROUPS)
    values = kb.clinic.placeholders()
    for group in PAGE_GROUPS:
        assert config["strings"][group] == ui.group(group, values)
    assert kb.clinic.emergency_number in config["strings"]["widget"]["disclaimer"]
    assert "{number}" in config["strings"]["client"]["call_button"]
    assert config["evidenceLevels"] == ui.evidence_levels(values)
    titles = {c["id"]: c["title"] for c in topic_tiles(kb, ui)["categories"]}
    assert titles == {category: ui.text("categories", category) for category in CATEGORIES}


# --- the last line of defence ---------------------------------------------------------------------------


async def test_the_last_resort_comes_from_the_strings_file_and_outlives_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read when the channel module starts; it still answers when neither file can be read any more."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from rasa_addons import channels

    copy = write(tmp_path, TEXT)
    store = StringsStore(copy)
    monkeypatch.setattr(channels, "STRINGS", store)
    monkeypatch.setattr(channels, "LAST_RESORT", store.get().text("safety_net", "last_resort"))
    knowledge = tmp_path / "en.yml"
    knowledge.write_text("- not a knowledge file\n", encoding="utf-8")
    monkeypatch.setattr(channels, "_locales", Locales(knowledge, copy, FIXTURE_CLINIC, topics_path=FIXTURE_TOPICS))
    copy.unlink()  # and the strings file is gone too

    async def silent(message: UserMessage) -> None:
        return None

    collector = CollectingOutputChannel()
    await channels.guarded(silent)(UserMessage("what is dry needling?", collector, "s1"))
    assert collector.messages[0]["text"] == RAW["safety_net"]["last_resort"]
    assert [m["custom"]["kind"] for m in collector.messages if "custom" in m] == ["handoff"]


def test_the_channel_module_reads_its_strings_when_it_starts() -> None:
    from rasa_addons import channels

    assert isinstance(channels.STRINGS, StringsStore)
    kept = channels.LAST_RESORT
    assert kept == channels.STRINGS.get().text("safety_net", "last_resort")


# --- `make check-knowledge` -------------------------------------------------------------------------


@pytest.fixture
def fixture_topics_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from needlewise.knowledge import load_topic_spec

    monkeypatch.setattr(check_knowledge, "load_topic_spec", lambda: load_topic_spec(FIXTURE_TOPICS))


def check(strings_file: Path) -> int:
    from tests.conftest import FIXTURE_KNOWLEDGE

    return check_knowledge.main(
        ["--knowledge", str(FIXTURE_KNOWLEDGE), "--clinic", str(FIXTURE_CLINIC), "--strings", str(strings_file)]
    )


def test_check_knowledge_reports_the_strings_file(fixture_topics_checked: None, capsys) -> None:
    assert check(FIXTURE_STRINGS) == 0
    out, _ = capsys.readouterr()
    assert f"Strings file: {FIXTURE_STRINGS} (language en)" in out
    assert "The knowledge check passed." in out


def test_check_knowledge_fails_on_a_sentence_above_the_reading_grade_limit(
    fixture_topics_checked: None, tmp_path: Path, capsys
) -> None:
    text = replace_once(TEXT, "  not_sent: Not sent\n", f"  not_sent: {HARD}\n")
    path = write(tmp_path, text)
    assert grade(HARD) > check_knowledge.MAX_ANSWER_GRADE
    assert check(path) == 1
    out, err = capsys.readouterr()
    line = line_of(text, "  not_sent:")
    assert f"{path}:{line}: field 'widget.not_sent': reads at grade" in err
    assert f"the limit is {check_knowledge.MAX_ANSWER_GRADE:.0f}" in err
    assert "passed" not in out


def test_check_knowledge_grades_sentences_but_not_short_labels(
    fixture_topics_checked: None, tmp_path: Path, capsys
) -> None:
    label = "Intramuscular neurovascular"  # a hard label, but a label: fewer than MIN_GRADED_WORDS words
    assert grade(label) > check_knowledge.MAX_ANSWER_GRADE
    assert len(label.split()) < check_knowledge.MIN_GRADED_WORDS
    path = write(tmp_path, replace_once(TEXT, "  send: Send\n", f"  send: {label}\n"))
    assert check(path) == 0, capsys.readouterr().err


def test_check_knowledge_names_a_broken_strings_file(fixture_topics_checked: None, tmp_path: Path, capsys) -> None:
    text = replace_once(TEXT, "  send: Send\n", "  send: Send {phnoe}\n")
    path = write(tmp_path, text)
    assert check(path) == 1
    err = capsys.readouterr().err
    assert "The knowledge check FAILED with 1 problem(s):" in err
    assert f"{path}:{line_of(text, '{phnoe}')}: field 'widget.send': unknown placeholder '{{phnoe}}'" in err


# --- the web server: the pages' words, and who may read them ------------------------------------------


@pytest.fixture(scope="module")
def web_client(tmp_path_factory):
    """The web app (Sanic's test client) with a knowledge file it cannot read: /config.json answers 503."""
    from servers.health import Backends
    from servers.stack import free_port
    from servers.web import create_app

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KNOWLEDGE_FILE", str(tmp_path_factory.mktemp("none") / "missing.yml"))
        patch.setenv("STRINGS_FILE", str(FIXTURE_STRINGS))
        strings.settings.current.cache_clear()
        backends = Backends(rasa=(f"http://127.0.0.1:{free_port()}",), actions=f"http://127.0.0.1:{free_port()}")
        app = create_app(allowed_origins=["https://www.clinic.example"], backends=backends)
        strings.settings.current.cache_clear()
        yield app.test_client


@pytest.mark.parametrize("path", ["/config.json", "/topics.json"])
def test_the_clinics_site_may_read_the_pages_settings_and_no_other_site(web_client, path: str) -> None:
    _, allowed = web_client.get(path, headers={"Origin": "https://www.clinic.example"})
    _, other = web_client.get(path, headers={"Origin": "https://elsewhere.example"})
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://www.clinic.example"
    assert "Access-Control-Allow-Origin" not in other.headers
    assert allowed.headers.get("Vary") == "Origin"


def test_without_its_files_the_web_server_tells_the_pages_nothing(web_client) -> None:
    """No clinic, no strings, no fallback: the pages then show nothing (see tests/web)."""
    _, reply = web_client.get("/config.json")
    assert reply.status == 503
    assert set(reply.json) == {"error"}
    _, page = web_client.get("/widget.js", headers={"Origin": "https://www.clinic.example"})
    assert page.status == 200 and "Access-Control-Allow-Origin" not in page.headers


def test_health_is_503_naming_each_part_that_is_down(web_client) -> None:
    """Nothing listens at the Rasa and action addresses, and the knowledge file is missing."""
    _, reply = web_client.get("/health")
    assert reply.status == 503 and reply.json["status"] == "unavailable"
    parts = reply.json["components"]
    assert {name: part["ok"] for name, part in parts.items()} == {
        "knowledge": False,
        "rasa": False,
        "actions": False,
        "lock_store": True,
    }
    assert "127.0.0.1" not in reply.body.decode()


def test_offline_words_are_served_as_a_script_even_without_the_knowledge_file(web_client) -> None:
    _, reply = web_client.get("/offline.js")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/javascript")
    prefix = "window.NeedlewiseOffline = "
    body = reply.body.decode()
    assert body.startswith(prefix)
    assert json.loads(body[len(prefix) :].rstrip().rstrip(";")) == load_strings(FIXTURE_STRINGS).group("offline", {})


def test_with_nowhere_to_forward_a_turn_the_web_server_says_so(web_client) -> None:
    _, reply = web_client.post("/webhooks/rest/webhook", json={"sender": "abc", "message": "hi"})
    assert reply.status == 502 and set(reply.json) == {"error"}
