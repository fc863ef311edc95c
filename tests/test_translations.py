"""Translations of the knowledge file (needlewise/translations.py), on copies of the fixture file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from needlewise.knowledge import load_topic_spec
from needlewise.translations import compare, strings_file_of, translation_files
from tests.conftest import FIXTURE_CLINIC, FIXTURE_KNOWLEDGE, FIXTURE_STRINGS, FIXTURE_TOPICS, load_fixture_kb
from tools.check_knowledge import translations_report

TEXT = FIXTURE_KNOWLEDGE.read_text(encoding="utf-8")
TOPICS = load_topic_spec(FIXTURE_TOPICS)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(FIXTURE_KNOWLEDGE, tmp_path / "en.yml")
    shutil.copy(FIXTURE_STRINGS, tmp_path / "en.strings.yml")
    shutil.copy(FIXTURE_STRINGS, tmp_path / "pt.strings.yml")
    return tmp_path


def translate(folder: Path, text: str) -> Path:
    path = folder / "pt.yml"
    path.write_text(text.replace("language: en", "language: pt-BR", 1), encoding="utf-8")
    return path


def load(path: Path):
    return load_fixture_kb(path)


def problems_of(folder: Path) -> list:
    return [str(p) for p in compare(load(folder / "en.yml"), load(folder / "pt.yml"))]


def test_translations_are_found_beside_the_english_file(folder):
    translate(folder, TEXT)
    shutil.copy(FIXTURE_CLINIC, folder / "clinic.yml")  # not a language: not a translation
    assert translation_files(folder / "en.yml") == {"pt": folder / "pt.yml"}
    assert strings_file_of(folder / "pt.yml") == folder / "pt.strings.yml"


def test_a_faithful_copy_passes(folder):
    translate(folder, TEXT.replace("Nothing is pushed in through the needle.", "Nada entra pela agulha."))
    assert problems_of(folder) == []


def test_a_number_that_changed_is_found(folder):
    assert "Several reviews" in TEXT
    translate(folder, TEXT.replace("a care plan,", "a care plan of 3 weeks,", 1))
    found = problems_of(folder)
    assert len(found) == 1 and "what_is_dry_needling" in found[0] and "numbers differ" in found[0]


def test_arabic_indic_digits_count_as_the_same_numbers(folder):
    english = TEXT.replace("a care plan,", "a care plan of 3 weeks,", 1)
    (folder / "en.yml").write_text(english, encoding="utf-8")
    translate(folder, english.replace("of 3 weeks", "of ٣ weeks"))
    assert problems_of(folder) == []


def test_a_missing_entry_and_changed_sources_are_found(folder):
    text = TEXT.replace('pmid: "28158962"', 'pmid: "28158963"', 1)
    translate(folder, text)
    found = problems_of(folder)
    assert any("sources" in p and "what_is_dry_needling" in p for p in found), found


def test_the_check_names_a_translation_without_its_strings_file(folder):
    translate(folder, TEXT)
    (folder / "pt.strings.yml").unlink()
    found = [
        str(p) for p in translations_report(load(folder / "en.yml"), folder / "en.yml", FIXTURE_CLINIC, TOPICS, False)
    ]
    assert found and "pt.strings.yml" in found[0]


def test_release_refuses_draft_translations(folder):
    translate(folder, TEXT)
    english = load(folder / "en.yml")
    assert translations_report(english, folder / "en.yml", FIXTURE_CLINIC, TOPICS, release=False) == []
    released = translations_report(english, folder / "en.yml", FIXTURE_CLINIC, TOPICS, release=True)
    assert any("draft" in str(p) for p in released)
