"""The topic list is written once, in bot/topics.yml; everything else follows it.

bot/domain/topics.yml and data/rules/topics.yml are generated from it (tools/generate_topics.py);
the NLU data and the knowledge file are written by people, so these tests hold them to it. The
reply kinds are read from it too (needlewise.replies.KINDS).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Set

import pytest
import yaml

from needlewise import replies
from needlewise.dialogue import FALLBACK_INTENT, INTENT_KINDS
from needlewise.knowledge import DEFAULT_KNOWLEDGE_FILE, TOPICS_FILE, load_reply_kinds, load_topic_spec
from needlewise.settings import ROOT
from tools import generate_topics

SHARED_TOPICS = ROOT.parent / "shared" / "spec" / "topics.yml"
TOPICS = load_topic_spec()
#: The intents that are not topics: each leads to its own reply kind (needlewise/dialogue.py).
OTHER_INTENTS = set(INTENT_KINDS) - {FALLBACK_INTENT}
#: Fewer examples than this and the classifier cannot learn a topic.
MIN_EXAMPLES = 10


def read(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def nlu_examples() -> Dict[str, List[str]]:
    """Intent -> its training examples, from every file of data/nlu/."""
    found: Dict[str, List[str]] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in read(path).get("nlu", []):
            if "intent" in item:
                lines = (item.get("examples") or "").splitlines()
                found.setdefault(item["intent"], []).extend(
                    line.strip()[2:] for line in lines if line.strip().startswith("- ")
                )
    return found


def domain_intents() -> Set[str]:
    intents: Set[str] = set()
    for path in (ROOT / "bot" / "domain").glob("*.yml"):
        for intent in read(path).get("intents", []):
            intents.add(next(iter(intent)) if isinstance(intent, dict) else intent)
    return intents


# --- the generated files -------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(generate_topics.generated()), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_generated_file_is_what_the_generator_writes(path: Path) -> None:
    expected = generate_topics.generated()[path]
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(ROOT)} is not in step with bot/topics.yml: run `.venv/bin/python -m tools.generate_topics`"
    )


def test_each_generated_file_says_it_is_generated_and_how_to_regenerate() -> None:
    for text in generate_topics.generated().values():
        assert text.startswith("# Generated from bot/topics.yml by tools/generate_topics.py")
        assert "python -m tools.generate_topics" in text.split('version: "3.1"')[0]


def test_one_rule_answers_every_topic_intent() -> None:
    (rule,) = read(generate_topics.RULES_FILE)["rules"]
    first, second = rule["steps"]
    assert [step["intent"] for step in first["or"]] == list(TOPICS)
    assert second == {"action": "action_respond"}


def test_the_domain_file_lists_the_topics_in_the_specs_order() -> None:
    assert read(generate_topics.DOMAIN_FILE)["intents"] == list(TOPICS)


def test_check_names_a_stale_file_and_writing_mends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    domain, rules = tmp_path / "domain.yml", tmp_path / "rules.yml"
    monkeypatch.setattr(generate_topics, "DOMAIN_FILE", domain)
    monkeypatch.setattr(generate_topics, "RULES_FILE", rules)
    assert generate_topics.main([]) == 0
    assert generate_topics.main(["--check"]) == 0
    rules.write_text(rules.read_text(encoding="utf-8").replace("  - intent: cost\n", ""), encoding="utf-8")
    capsys.readouterr()
    assert generate_topics.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert str(rules) in err and str(domain) not in err
    assert generate_topics.main([]) == 0
    assert generate_topics.main(["--check"]) == 0


def test_a_new_topic_reaches_both_generated_files(tmp_path: Path) -> None:
    spec = read(TOPICS_FILE)
    spec["topics"]["parking"] = {"category": "clinic", "covers": "where to park"}
    topics_file = tmp_path / "topics.yml"
    topics_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    texts = generate_topics.generated(topics_file)
    assert "  - parking\n" in texts[generate_topics.DOMAIN_FILE]
    assert "          - intent: parking\n" in texts[generate_topics.RULES_FILE]
    assert generate_topics.stale_files(topics_file) == sorted(texts)


# --- what people write: NLU data, knowledge, the rest of the domain ------------------------------


@pytest.mark.parametrize("topic", list(TOPICS))
def test_every_topic_has_nlu_examples(topic: str) -> None:
    examples = nlu_examples().get(topic, [])
    assert len(examples) >= MIN_EXAMPLES, f"data/nlu/ has {len(examples)} examples of '{topic}'"


def test_every_nlu_intent_is_a_topic_or_one_of_the_other_intents() -> None:
    unknown = set(nlu_examples()) - set(TOPICS) - OTHER_INTENTS
    assert not unknown, f"intents in data/nlu/ that bot/topics.yml and needlewise/dialogue.py lack: {sorted(unknown)}"


def test_every_topic_has_a_knowledge_entry() -> None:
    entries = {entry["id"] for entry in read(DEFAULT_KNOWLEDGE_FILE)["entries"]}
    assert not set(TOPICS) - entries, f"topics without an entry in {DEFAULT_KNOWLEDGE_FILE}"


def test_the_domain_has_no_topic_intent_that_the_spec_lacks() -> None:
    unknown = domain_intents() - set(TOPICS) - OTHER_INTENTS
    assert not unknown, f"intents in bot/domain/ that bot/topics.yml and needlewise/dialogue.py lack: {sorted(unknown)}"
    assert set(TOPICS) <= domain_intents()


def test_no_topic_is_also_one_of_the_other_intents() -> None:
    assert not set(TOPICS) & OTHER_INTENTS


# --- reply kinds ----------------------------------------------------------------------------------


def test_reply_kinds_are_read_from_the_spec() -> None:
    assert replies.KINDS == load_reply_kinds() == tuple(read(TOPICS_FILE)["kinds"])


def test_every_kind_an_intent_leads_to_is_a_reply_kind() -> None:
    assert set(INTENT_KINDS.values()) <= set(replies.KINDS)


def test_every_kind_the_evaluation_reads_is_a_reply_kind() -> None:
    from tools.evaluate import KIND_INTENTS

    assert set(KIND_INTENTS) <= set(replies.KINDS)


# --- the project's copy of the shared spec -------------------------------------------------------


@pytest.mark.skipif(not SHARED_TOPICS.exists(), reason=f"no shared spec at {SHARED_TOPICS}")
def test_the_topic_ids_and_kinds_are_the_shared_specs() -> None:
    shared, ours = read(SHARED_TOPICS), read(TOPICS_FILE)
    assert {t: v["category"] for t, v in ours["topics"].items()} == {
        t: v["category"] for t, v in shared["topics"].items()
    }
    assert list(ours["topics"]) == list(shared["topics"])
    assert list(ours["kinds"]) == list(shared["kinds"])
