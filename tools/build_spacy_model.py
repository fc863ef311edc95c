"""Builds the project's own spaCy pipeline from files in the repo; nothing is downloaded.

blank English + a lookup lemmatizer (tables from spacy-lookups-data) + an entity ruler with the
clinic's vocabulary (bot/nlp/vocabulary.yml). Rasa's SpacyNLP loads it from BUILD_DIR.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import spacy
import yaml

from needlewise.settings import ROOT

VOCABULARY = ROOT / "bot" / "nlp" / "vocabulary.yml"
BUILD_DIR = ROOT / "build" / "spacy" / "needlewise_en"


def entity_patterns(vocabulary: dict) -> list:
    patterns = []
    for label, phrases in vocabulary.items():
        for phrase in phrases:
            patterns.append({"label": label, "pattern": phrase, "id": phrase.replace(" ", "_")})
    return patterns


def build(vocabulary_file: Path = VOCABULARY) -> spacy.language.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    nlp.initialize()
    ruler.add_patterns(entity_patterns(yaml.safe_load(vocabulary_file.read_text(encoding="utf-8"))))
    nlp.meta["name"] = "needlewise_en"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = "Needlewise: blank English, lookup lemmas, clinic vocabulary entity ruler."
    return nlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=BUILD_DIR)
    args = parser.parse_args()
    nlp = build()
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(args.out)
    print(f"Built the spaCy pipeline {nlp.pipe_names} into {args.out}")


if __name__ == "__main__":
    main()
