"""The languages Needlewise answers in, each with its own knowledge file and strings file.

The default language is the KNOWLEDGE_FILE setting's file (English, `bot/knowledge/en.yml`) with
the STRINGS_FILE setting's strings. Every translation beside it (`pt.yml` with `pt.strings.yml`,
`ar.yml` with `ar.strings.yml`; needlewise/translations.py finds and checks them) is served too,
as long as it can be read: a translation that is broken, or that has no approved entry while
REQUIRE_APPROVED is on, is not offered, and its patients get the default language instead.

A language is named by its BCP 47 tag as its files write it (`en`, `pt-BR`, `ar`); any tag with
the same primary language (`pt`, `pt-PT`, `AR-ae`) finds it. No Rasa imports.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from needlewise import strings as strings_module
from needlewise.knowledge import KnowledgeBase, KnowledgeFileError, KnowledgeStore, _resolve, knowledge_path
from needlewise.strings import LANGUAGE_PATTERN, StringsStore, UiStrings, strings_path
from needlewise.translations import strings_file_of, translation_files

logger = logging.getLogger(__name__)

#: Primary languages written right to left (of those a clinic may add).
RIGHT_TO_LEFT = frozenset({"ar", "he", "fa", "ur", "ps", "ckb", "yi", "dv"})


def primary(tag: Optional[str]) -> str:
    """`pt-BR` -> `pt`; anything that is not a language tag -> ""."""
    if not isinstance(tag, str) or len(tag) > 35:
        return ""
    tag = tag.strip().replace("_", "-")
    head = tag.split("-", 1)[0].lower()
    return head if LANGUAGE_PATTERN.match(head) else ""


def direction(tag: str) -> str:
    """`rtl` for a language written right to left, else `ltr`."""
    return "rtl" if primary(tag) in RIGHT_TO_LEFT else "ltr"


@dataclass
class Locale:
    """One language: its live knowledge and strings (each reloaded when its file changes)."""

    key: str  # the primary language, e.g. "pt"
    knowledge: KnowledgeStore
    strings: StringsStore

    def knowledge_base(self) -> KnowledgeBase:
        return self.knowledge.get()

    def ui(self) -> UiStrings:
        return self.strings.get()

    @property
    def tag(self) -> str:
        """The BCP 47 tag the files write (`pt-BR`); the key if they cannot be read."""
        try:
            return self.ui().language
        except KnowledgeFileError:
            return self.key

    def available(self) -> bool:
        try:
            self.knowledge.get()
            self.strings.get()
        except KnowledgeFileError:
            return False
        return True


class Locales:
    """Every language the servers answer in; the default one first."""

    def __init__(
        self,
        knowledge: Optional[Path] = None,
        strings: Optional[Path] = None,
        clinic: Optional[Path] = None,
        require_approved: Optional[bool] = None,
        topics_path: Optional[Path] = None,
    ) -> None:
        english = _resolve(Path(knowledge)) if knowledge else knowledge_path()
        english_strings = _resolve(Path(strings)) if strings else _resolve(strings_path())
        self.default = Locale(
            _file_language(english_strings) or "en",
            KnowledgeStore(english, clinic, topics_path, require_approved),
            strings_module.store(english_strings),
        )
        self._all: Dict[str, Locale] = {self.default.key: self.default}
        for stem, path in translation_files(english).items():
            key = primary(stem)
            if not key or key in self._all or not strings_file_of(path).is_file():
                continue
            self._all[key] = Locale(
                key,
                KnowledgeStore(path, clinic, topics_path, require_approved),
                strings_module.store(strings_file_of(path)),
            )

    def keys(self) -> List[str]:
        """Every language found, served or not, the default first."""
        return list(self._all)

    def served(self) -> List[Locale]:
        """The languages that can answer now (the default always listed first)."""
        return [self.default] + [loc for key, loc in self._all.items() if key != self.default.key and loc.available()]

    def find(self, tag: Optional[str]) -> Optional[Locale]:
        """The served language of `tag` (any tag with its primary language), or None."""
        locale = self._all.get(primary(tag))
        if locale is None:
            return None
        if locale is not self.default and not locale.available():
            return None
        return locale

    def get(self, tag: Optional[str]) -> Locale:
        """The served language of `tag`, else the default language."""
        return self.find(tag) or self.default


def _file_language(path: Path) -> str:
    """The primary language a strings file declares (read cheaply; checked properly by its store)."""
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith("language:"):
                return primary(line.split(":", 1)[1].strip().strip("\"'"))
    except OSError:
        pass
    return ""


_shared: Optional[Locales] = None
_shared_lock = threading.Lock()


def shared() -> Locales:
    """This process's languages (from the current settings), made on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Locales()
        return _shared


def reset_shared() -> None:
    """Forget the shared languages (tests that change the settings call this)."""
    global _shared
    with _shared_lock:
        _shared = None
