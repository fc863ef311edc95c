"""Needlewise's own Rasa NLU components.

- `GlossaryTokens`: each token's lemma, spelling-neutral, with its English gloss in a Portuguese or
  Arabic message (bot/nlp/glossary/), for the word and character n-gram counts.
- `SentenceEncoderFeaturizer`: the pretrained sentence vector (all-MiniLM-L6-v2, rasa_addons/encoder.py)
  of each message, beside the word and character n-gram counts.
- `LanguageGuard`: a message in a language the model was not trained in gets the intent
  `other_language` (the bot says which languages it answers in), never a topic.
- `RedFlagOverride`: the red-flag layer, run after every classifier so it has the last word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import ENTITIES, FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from needlewise import glossary, language
from needlewise.glossary import normalised_word
from needlewise.red_flags import default_detector
from rasa_addons import encoder

URGENT_INTENT = "urgent"
RED_FLAG_ENTITY = "red_flag"
OTHER_LANGUAGE_INTENT = "other_language"
LANGUAGE_ENTITY = "language"
FALLBACK_INTENT = "nlu_fallback"


class _RunTimeOnly(GraphComponent):
    """A component with no training: built from its settings alone, the same way for every model."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        return cls.from_config(config)

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> GraphComponent:
        """The component for its settings in config.yml (none, unless a subclass reads some)."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class GlossaryTokens(_RunTimeOnly):
    """Gives every token a lemma for the word counts: the word spelling-neutral (accents, Arabic
    diacritics and letter variants folded: needlewise/glossary.py), followed, in a message in a
    language with a glossary (`bot/nlp/glossary/pt.yml`, `ar.yml`), by its English gloss. So
    "agulhamento" counts as "agulhamento dry needling", and Portuguese and Arabic messages share
    the English examples' words. A featurizer with `use_lemma: false` still counts the words as typed.
    """

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            tokens = message.get(TOKENS_NAMES[TEXT]) or []
            if not tokens:
                continue
            found = glossary.for_language(language.detected(message.get(TEXT) or "").language)
            for token in tokens:
                english = found.word(token.text) if found else None
                token.lemma = normalised_word(token.lemma or token.text) + (f" {english}" if english else "")
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class LanguageGuard(_RunTimeOnly):
    """The language detector (needlewise/language.py) decides whether the model understands a message.

    `languages` (config.yml) are those the training data is written in (`en`, `pt`, `ar`). A message
    in another language: the intent becomes `other_language`, with a `language` entity. A message in
    one of them, but the classifier said `other_language`: the intent becomes `nlu_fallback` (the
    patient is offered topics), so a question is never turned away. English letters that make no
    known word ("qwxz blorp") are not understood either: `nlu_fallback`, unless the classifier voted
    `urgent` (a misspelled emergency keeps that vote). Runs before the red-flag layer, which still
    wins for an emergency in any language.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"languages": [language.ENGLISH]}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> GraphComponent:
        return cls(config.get("languages") or [language.ENGLISH])

    def __init__(self, languages: Sequence[str] = (language.ENGLISH,)) -> None:
        self.known = language.load_known_words() | _encoder_words()
        self.languages = frozenset(str(code) for code in languages)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if text.startswith("/"):
                continue  # a button payload
            guess = language.detected(text)
            predicted = (message.get(INTENT) or {}).get("name")
            if guess.language in self.languages:
                unreadable = guess.english and predicted != URGENT_INTENT and not language.readable(text, self.known)
                if unreadable or predicted == OTHER_LANGUAGE_INTENT:
                    _set_intent(message, FALLBACK_INTENT)
            else:
                _set_intent(message, OTHER_LANGUAGE_INTENT)
                entities = [e for e in message.get(ENTITIES) or [] if e.get("entity") != LANGUAGE_ENTITY]
                entities.append(
                    {
                        "entity": LANGUAGE_ENTITY,
                        "value": guess.language,
                        "start": 0,
                        "end": len(text),
                        "confidence_entity": 1.0,
                        "extractor": type(self).__name__,
                    }
                )
                message.set(ENTITIES, entities, add_to_output=True)
        return messages


def _encoder_words() -> frozenset:
    """The whole English words of the sentence encoder's vocabulary (when it is built)."""
    try:
        vocabulary = encoder.shared_encoder().tokenizer.get_vocab()
    except encoder.EncoderError:
        return frozenset()
    return frozenset(word for word in vocabulary if word.isalpha() and word.isascii())


def _set_intent(message: Message, name: str) -> None:
    """Puts `name` first with confidence 1.0, keeping the rest of the ranking after it."""
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != name]
    message.set(INTENT, {"name": name, "confidence": 1.0}, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [{"name": name, "confidence": 1.0}, *ranking], add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class RedFlagOverride(_RunTimeOnly):
    """Sets the intent to `urgent`, with a `red_flag` entity per category, when a red flag fires.

    Deterministic: whatever the classifiers before it thought, a patient who reports an
    emergency symptom gets the urgent reply.
    """

    def __init__(self) -> None:
        self.detector = default_detector()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._override(message)
        return messages

    def _override(self, message: Message) -> None:
        text: Optional[str] = message.get(TEXT)
        flags = self.detector.detect(text or "")
        if not flags:
            return
        _set_intent(message, URGENT_INTENT)
        entities = [e for e in message.get(ENTITIES) or [] if e.get("entity") != RED_FLAG_ENTITY]
        for flag in flags:
            start = max((text or "").lower().find(flag.matched.split()[0]), 0)
            entities.append(
                {
                    "entity": RED_FLAG_ENTITY,
                    "value": flag.category,
                    "start": start,
                    "end": start + len(flag.matched),
                    "confidence_entity": 1.0,
                    "extractor": type(self).__name__,
                }
            )
        message.set(ENTITIES, entities, add_to_output=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds each message's sentence vector (mean pooled, L2-normalised, times `scale`) as a
    sentence feature. Button payloads (`/intent`) skip the encoder: they need no NLU."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # the folder `make setup` builds the encoder into (relative to the project)
            "build_dir": "build/encoder",
            # how much the sentence vector weighs against the n-gram counts in the classifier
            "scale": 1.0,
            # encode messages in these languages (needlewise/language.py) as they are; empty: every message
            "languages": [],
            # encode a message in another language as its English gloss (bot/nlp/glossary/<language>.yml)
            "gloss": False,
        }

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context.node_name)

    def __init__(self, config: Dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        build_dir = Path(self._config["build_dir"])
        if not build_dir.is_absolute():
            build_dir = encoder.ROOT / build_dir
        self.encoder = encoder.shared_encoder(str(build_dir))
        encoder.ACTIVE = self.encoder
        self.scale = float(self._config["scale"])
        self.languages = frozenset(self._config.get("languages") or ())
        self.gloss = bool(self._config.get("gloss"))
        self.empty = np.zeros((1, encoder.DIM), dtype=np.float32)
        encoder.PREPARE = self.encoder_text

    @classmethod
    def validate_config(cls, config: Dict[str, Any]) -> None:
        if float(config.get("scale", 1.0)) <= 0:
            raise ValueError("SentenceEncoderFeaturizer: scale must be above 0")

    def encoder_text(self, text: Optional[str]) -> str:
        """What the encoder reads of a message: the message in one of `languages`; else its English
        gloss (needlewise/glossary.py) when `gloss` is on and the language has a glossary; else nothing
        (the encoder reads English only: its vector of another language is noise)."""
        if not text or not text.strip() or text.startswith("/"):
            return ""
        if not self.languages:
            return text
        spoken = language.detected(text).language
        if spoken in self.languages:
            return text
        found = glossary.for_language(spoken) if self.gloss else None
        return found.gloss(text) if found else ""

    def _vector(self, text: Optional[str]) -> np.ndarray:
        words = self.encoder_text(text)
        if not words.strip():
            return self.empty
        return (self.encoder.encode(words) * self.scale).reshape(1, -1)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if message.get(TEXT) is None:
                continue
            message.add_features(
                Features(self._vector(message.get(TEXT)), FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
