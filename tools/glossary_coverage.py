"""How much of a language's training data its glossary reads, and the commonest words it does not.

`python -m tools.glossary_coverage pt` reads data/nlu/pt/ through bot/nlp/glossary/pt.yml and prints
the share of words glossed and the most frequent unknown words (to add to the glossary).
"""

from __future__ import annotations

import argparse
import collections
import sys
from typing import List

from needlewise import glossary
from needlewise.settings import ROOT
from tools.evaluate import load_examples


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("language", help="pt or ar")
    parser.add_argument("--top", type=int, default=80)
    args = parser.parse_args(argv)
    found = glossary.load(glossary.GLOSSARY_DIR / f"{args.language}.yml")
    folder = ROOT / "data" / "nlu" / args.language
    examples = [text for path in sorted(folder.glob("*.yml")) for text, _ in load_examples(path)]
    known = total = 0
    missing: collections.Counter = collections.Counter()
    for text in examples:
        for word in glossary._WORD.findall(text):
            total += 1
            if found.gloss(word):
                known += 1
            else:
                missing[glossary.normalised_word(word)] += 1
    print(f"{len(examples)} examples, {known} of {total} words glossed ({known / max(total, 1):.1%})")
    print("commonest words without a gloss:", ", ".join(f"{w} ({n})" for w, n in missing.most_common(args.top)))
    for text in examples[:: max(len(examples) // 8, 1)][:8]:
        print(f"  {text}\n    -> {found.gloss(text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
