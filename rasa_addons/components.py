"""Rasa NLU component: the red-flag layer, run after every classifier so it has the last word."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from rasa_addons.red_flags import default_detector

URGENT_INTENT = "urgent"
RED_FLAG_ENTITY = "red_flag"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class RedFlagOverride(GraphComponent):
    """Sets the intent to `urgent`, with a `red_flag` entity per category, when a red flag fires.

    Deterministic: whatever the classifiers before it thought, a patient who reports an
    emergency symptom gets the urgent reply.
    """

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagOverride:
        return cls()

    def __init__(self) -> None:
        self.detector = default_detector()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._override(message)
        return messages

    def _override(self, message: Message) -> None:
        text: Optional[str] = message.get(TEXT)
        flags = self.detector.detect(text or "")
        if not flags:
            return
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != URGENT_INTENT]
        message.set(INTENT, {"name": URGENT_INTENT, "confidence": 1.0}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [{"name": URGENT_INTENT, "confidence": 1.0}, *ranking], add_to_output=True)
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
