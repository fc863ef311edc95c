"""No patient-facing wording in code: it lives in the reviewed strings and knowledge files.

The pages (bot/web/*.js, kiosk.html) and the Python modules that build replies hold no sentence a
patient would read; the web files hold no made-up emergency number or clinic name to fall back on.

What counts as a patient-facing sentence (`sentence_like`): a string literal with a run of three or
more plain words (letters, an inner apostrophe, surrounding quotes, brackets or punctuation; not
`nw-turn`, `{placeholder}`, `sender_id` or `text/html`). Literals that no patient reads are left out:
docstrings and comments; log messages (`logger.*(...)`, `console.*(...)`); exceptions (`raise ...`,
`assert ..., "..."`, any call of a name ending in Error, Exception or Warning, `throw`, `new Error(...)`);
and the HTTP API's error bodies for programs (`_bad_request(...)`, a dict's "error" value).
"""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import List, Set, Tuple

import pytest

from needlewise.knowledge import DEFAULT_CLINIC_FILE, load_clinic
from needlewise.settings import ROOT
from tests.conftest import FIXTURE_CLINIC

WEB = ROOT / "bot" / "web"
#: The Python modules that build what a patient reads.
REPLY_MODULES = [
    ROOT / "needlewise" / "replies.py",
    ROOT / "needlewise" / "dialogue.py",
    ROOT / "rasa_addons" / "channels.py",
    ROOT / "servers" / "web.py",
    *sorted((ROOT / "actions").glob("*.py")),
]
WORD = re.compile(r"^[\"'(\[]*[A-Za-z]+(?:['\u2019][A-Za-z]+)*[\"')\].,;:!?\u2026]*$")
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
LOGGERS = {"logger", "logging", "log", "_logger", "LOGGER"}
#: Helpers whose words go to programs (HTTP API error bodies), never to patients.
PROGRAM_ERRORS = {"_bad_request"}
#: A generic name a page could fall back on when it does not know the clinic's.
CLINIC_FALLBACK = re.compile(r"\b(the|your|our|this) (clinic|practice|surgery)\b", re.I)


def sentence_like(text: str) -> bool:
    """Three or more plain words in a row."""
    run = 0
    for token in text.split():
        run = run + 1 if WORD.match(token) else 0
        if run >= 3:
            return True
    return False


# --- Python ----------------------------------------------------------------------------------------


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _is_log_call(func: ast.expr) -> bool:
    if not (isinstance(func, ast.Attribute) and func.attr in LOG_METHODS):
        return False
    base = func.value
    return (isinstance(base, ast.Name) and base.id in LOGGERS) or (
        isinstance(base, ast.Attribute) and base.attr.lower().endswith("logger")
    )


def _not_for_patients(tree: ast.AST) -> Set[int]:
    """The ids of every node inside a docstring, log call, exception or program-facing error body."""
    skipped: Set[int] = set()

    def skip(node: ast.AST) -> None:
        skipped.update(id(inner) for inner in ast.walk(node))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip(first)
        if isinstance(node, (ast.Raise, ast.Assert)):
            skip(node)
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if _is_log_call(node.func) or name.endswith(("Error", "Exception", "Warning")) or name in PROGRAM_ERRORS:
                skip(node)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "error":
                    skip(value)
    return skipped


def python_sentences(source: str) -> List[Tuple[int, str]]:
    """(line, text) of every string literal in `source` that reads like a sentence for patients."""
    tree = ast.parse(source)
    skipped = _not_for_patients(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):  # an f-string: its words, with {...} as a gap
            skipped.update(id(part) for part in node.values)
            text = "".join(p.value if isinstance(p, ast.Constant) else " {} " for p in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if sentence_like(text):
            found.append((node.lineno, text))
    return sorted(found)


# --- JavaScript --------------------------------------------------------------------------------------

#: After these, a "/" starts a regular expression, not a division.
REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^") | {""}
REGEX_KEYWORDS = {"return", "typeof", "case", "in", "of", "new", "delete", "void", "throw", "instanceof"}
NOT_FOR_PATIENTS_JS = re.compile(r"(?:\bnew\s+[A-Za-z]*Error|\bconsole\.[a-z]+)\s*\(\s*$|\bthrow\s+$")


def js_literals(source: str) -> List[Tuple[int, str, int]]:
    """(line, text, start offset) of every string and template literal, skipping comments and
    regular expressions; a template's ${...} becomes a gap, and literals inside it are found too."""
    found: List[Tuple[int, str, int]] = []

    def line(at: int) -> int:
        return source.count("\n", 0, at) + 1

    def previous_token(at: int) -> str:
        before = source[:at].rstrip()
        word = re.search(r"[A-Za-z_$][\w$]*$", before)
        if word:
            return word.group(0)
        return before[-1:] if before else ""

    def scan(i: int, in_expression: bool) -> int:
        depth = 0
        while i < len(source):
            char = source[i]
            if source.startswith("//", i):
                i = source.find("\n", i)
                i = len(source) if i < 0 else i
            elif source.startswith("/*", i):
                i = source.index("*/", i) + 2
            elif char in "'\"":
                end = i + 1
                while source[end] != char:
                    end += 2 if source[end] == "\\" else 1
                found.append((line(i), source[i + 1 : end], i))
                i = end + 1
            elif char == "`":
                start, parts, j = i, [], i + 1
                while source[j] != "`":
                    if source[j] == "\\":
                        parts.append(source[j : j + 2])
                        j += 2
                    elif source.startswith("${", j):
                        parts.append(" {} ")
                        j = scan(j + 2, True)
                    else:
                        parts.append(source[j])
                        j += 1
                found.append((line(start), "".join(parts), start))
                i = j + 1
            elif char == "/":
                token = previous_token(i)
                if token in REGEX_AFTER or token in REGEX_KEYWORDS:
                    j, in_class = i + 1, False
                    while in_class or source[j] != "/":
                        if source[j] == "\\":
                            j += 1
                        elif source[j] == "[":
                            in_class = True
                        elif source[j] == "]":
                            in_class = False
                        j += 1
                    i = j + 1
                else:
                    i += 1
            elif in_expression and char == "{":
                depth += 1
                i += 1
            elif in_expression and char == "}":
                if depth == 0:
                    return i + 1
                depth -= 1
                i += 1
            else:
                i += 1
        return i

    scan(0, False)
    return sorted(found, key=lambda item: item[2])


def js_sentences(source: str) -> List[Tuple[int, str]]:
    """(line, text) of every literal that reads like a sentence and is not a log message or an exception."""
    return [
        (line, text)
        for line, text, start in js_literals(source)
        if sentence_like(text) and not NOT_FOR_PATIENTS_JS.search(source[:start])
    ]


# --- HTML --------------------------------------------------------------------------------------------

VISIBLE_ATTRIBUTES = {"aria-label", "aria-description", "placeholder", "title", "alt", "value", "content"}


class _Words(HTMLParser):
    """The text a page shows by itself: text outside <script>/<style>, and its visible attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: List[str] = []
        self.texts: List[Tuple[str, str]] = []  # (where, text)

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value and tag != "meta":
                self.texts.append((f"<{tag} {name}>", value))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        if data.strip() and not {"script", "style"} & set(self.stack):
            self.texts.append((f"<{self.stack[-1] if self.stack else ''}>", data.strip()))


def page_words(html: str) -> List[Tuple[str, str]]:
    parser = _Words()
    parser.feed(html)
    return parser.texts


# --- the heuristics catch what they should, and only that ----------------------------------------------

PLANTED_PYTHON = '''
"""A module docstring with many words in it."""
import logging
logger = logging.getLogger(__name__)
HEADERS = {"Content-Type": "text/html", "X-Frame-Options": "DENY", "policy": "default-src 'self'"}

def reply(name):
    """A docstring with many words."""
    logger.warning("A turn failed here (%s) and was answered.", name)
    if not name:
        raise ValueError(f"the name {name!r} is not allowed here")
    assert name, "a name must be given here"
    # a comment with many words in it
    bad = _bad_request("Use POST with a JSON body.")
    body = {"error": "The knowledge file cannot be read."}
    label = "Talk to the front desk"
    greeting = f"Hi {name}, how are you today?"
    return [label, greeting, "two words", "nw-turn nw-turn-bot nw-kind", "{clinic_name} {phone} {hours}"]
'''

PLANTED_JS = r"""
// A comment that isn't code: "Please call us".
/* A block comment with 'quotes' and many words. */
const half = total / 2; const quote = /["']+/g; const slash = /[/]{2,}/;
if (!rasaUrl) throw new Error("No Rasa server is configured.");
console.warn(`could not load ${src} right now`);
const cls = `nw-turn nw-turn-bot nw-kind-${kind}`;
const nested = `${ok ? "a b" : `Sorry, we cannot do ${what} now`}`;
el("p", { class: "nw-bubble", text: "Please call the front desk" });
const welcome = `Hi, I'm Needlewise, an assistant for ${name}.`;
"""


def test_the_python_scan_finds_a_planted_sentence_and_nothing_else():
    assert python_sentences(PLANTED_PYTHON) == [
        (16, "Talk to the front desk"),
        (17, "Hi  {} , how are you today?"),
    ]


def test_the_javascript_scan_finds_planted_sentences_and_nothing_else():
    assert js_sentences(PLANTED_JS) == [
        (8, "Sorry, we cannot do  {}  now"),
        (9, "Please call the front desk"),
        (10, "Hi, I'm Needlewise, an assistant for  {} ."),
    ]


def test_the_page_scan_finds_words_in_text_and_visible_attributes():
    html = '<html><head><title>X</title><script>var a = "b c d";</script></head><body><p>Hi there</p>'
    html += '<input placeholder="Type here"><button aria-label="Close it"></button><div class="a b c"></div></body>'
    assert page_words(html) == [
        ("<title>", "X"),
        ("<p>", "Hi there"),
        ("<input placeholder>", "Type here"),
        ("<button aria-label>", "Close it"),
    ]


# --- the real files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", REPLY_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_patient_facing_sentence_in_the_python_that_builds_replies(path: Path):
    assert python_sentences(path.read_text(encoding="utf-8")) == [], "move it to bot/knowledge/en.strings.yml"


@pytest.mark.parametrize("path", sorted(WEB.glob("*.js")), ids=lambda p: p.name)
def test_no_patient_facing_sentence_in_the_pages_scripts(path: Path):
    source = path.read_text(encoding="utf-8")
    assert len(js_literals(source)) > 20, "the scan reads the file"
    assert js_sentences(source) == [], "move it to bot/knowledge/en.strings.yml"


def test_the_kiosk_page_holds_no_words_of_its_own():
    """Only the product's name as the title until kiosk.js puts the strings file's words in."""
    words = page_words((WEB / "kiosk.html").read_text(encoding="utf-8"))
    assert words == [("<title>", "Needlewise")]


def test_no_web_file_makes_up_an_emergency_number_or_a_clinic_name():
    """If the pages cannot read the clinic's settings they show nothing; there is nothing to fall back on.

    The demo clinic page (index.html) is the clinic's own site, with its own name and phone; it too
    names no emergency number (the widget shows the clinic's, from the settings)."""
    names = {load_clinic(DEFAULT_CLINIC_FILE).name, load_clinic(FIXTURE_CLINIC).name}
    files = sorted(path for path in WEB.iterdir() if path.is_file())
    assert {"widget.js", "kiosk.js", "needlewise-client.js", "kiosk.html", "index.html"} <= {p.name for p in files}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert "911" not in text and "988" not in text, f"{path.name} names an emergency number"
        if path.name != "index.html":
            assert not [name for name in names if name.lower() in text.lower()], f"{path.name} names a clinic"
        if path.suffix == ".js":
            fallbacks = [t for _, t, _ in js_literals(text) if CLINIC_FALLBACK.search(t)]
            assert fallbacks == [], f"{path.name} has a clinic-name fallback: {fallbacks}"
