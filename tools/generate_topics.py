"""`make topics`: writes the topic parts of the Rasa domain and rules from bot/topics.yml.

bot/topics.yml (the project's copy of the shared topic spec) is the one source of the topic list.
From it this writes
- bot/domain/topics.yml: one intent per topic; the intent name is the topic id;
- data/rules/topics.yml: one rule that answers any topic intent with action_respond.

`--check` writes nothing: it exits 1 and names each file that is not what the generator would
write (tests/test_topics_in_step.py runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List

from needlewise.knowledge import TOPICS_FILE, load_topic_spec
from needlewise.settings import ROOT

DOMAIN_FILE = ROOT / "bot" / "domain" / "topics.yml"
RULES_FILE = ROOT / "data" / "rules" / "topics.yml"
#: The action that answers every topic intent.
ACTION = "action_respond"
RULE_NAME = "a topic question is answered from the knowledge file"


HEADER = [
    "# Generated from bot/topics.yml by tools/generate_topics.py. Do not edit by hand: edit",
    "# bot/topics.yml, then run `make topics` (or `.venv/bin/python -m tools.generate_topics`).",
    'version: "3.1"',
    "",
]


def grouped(topics: Dict[str, str], heading: str, item: str) -> List[str]:
    """One line per topic in the spec's order, with a comment line before each new category."""
    lines: List[str] = []
    category = None
    for topic, topic_category in topics.items():
        if topic_category != category:
            category = topic_category
            lines.append(heading.format(category=category))
        lines.append(item.format(topic=topic))
    return lines


def domain_text(topics: Dict[str, str]) -> str:
    """bot/domain/topics.yml: the topic intents, grouped by category in the spec's order."""
    lines = [
        *HEADER,
        "# One intent per topic of bot/topics.yml; the intent name is the topic id.",
        "# action_respond answers each from the knowledge file.",
        "intents:",
    ]
    lines += grouped(topics, "  # {category}", "  - {topic}")
    return "\n".join(lines) + "\n"


def rules_text(topics: Dict[str, str]) -> str:
    """data/rules/topics.yml: one rule, any topic intent (Rasa's `or` step), then action_respond."""
    lines = [
        *HEADER,
        "# Every topic question is answered from the knowledge file by action_respond: one rule,",
        "# whose `or` step matches any topic intent.",
        "rules:",
        f"  - rule: {RULE_NAME}",
        "    steps:",
        "      - or:",
    ]
    lines += grouped(topics, "          # {category}", "          - intent: {topic}")
    lines.append(f"      - action: {ACTION}")
    return "\n".join(lines) + "\n"


def generated(topics_file: Path = TOPICS_FILE) -> Dict[Path, str]:
    """Each generated file and the text it should hold."""
    topics = load_topic_spec(topics_file)
    return {DOMAIN_FILE: domain_text(topics), RULES_FILE: rules_text(topics)}


def stale_files(topics_file: Path = TOPICS_FILE) -> List[Path]:
    """The generated files whose text differs from what the generator writes."""
    stale = []
    for path, text in generated(topics_file).items():
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != text:
            stale.append(path)
    return stale


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=Path, default=TOPICS_FILE, help="the topic spec (default: bot/topics.yml)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.topics)
        for path in stale:
            print(
                f"{_shown(path)} is not in step with {_shown(args.topics)}: run `make topics`"
                " (.venv/bin/python -m tools.generate_topics)",
                file=sys.stderr,
            )
        if not stale:
            print(f"The topic files are in step with {_shown(args.topics)}.")
        return 1 if stale else 0
    for path, text in generated(args.topics).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {_shown(path)}")
        else:
            print(f"{_shown(path)} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
