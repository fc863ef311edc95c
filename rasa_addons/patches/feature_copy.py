"""Combines a message's features starting from a plain copy of the first matrix, not a deepcopy.

Rasa 3.6's `Message._combine_features` (behind `get_sparse_features` and `get_dense_features`)
starts from `copy.deepcopy` of the first `Features`, which goes through pickle's machinery for
the scipy matrix inside; here it starts from a new `Features` holding a plain copy of that matrix
(`.copy()`, the same class, shape, dtype and numbers), with the same type, attribute and origin,
then adds the others as Rasa does. The features given are never changed.

Who calls it: Rasa's own `LogisticRegressionClassifier._create_X` (four times a message, with
our pipeline: sparse and dense, sequence and sentence). With classifier_rows.py applied the
classifier builds its rows without it and nothing on the server's path calls it (counted over the
held-out set: 0 calls, against 3,000 for the 750 without classifier_rows); it still serves
any other user of those methods (training, `rasa test`, a pipeline with DIET), and stock rows.

Measured 2026-11-29: leaving it out cost +0.04 ms a turn (python -m tools.bench_patches, noise
0.80 ms; with classifier_rows applied, so nothing called it), and Rasa's rows took 0.51 ms a
message without it, 0.50 ms with it. Dropped that day with four other patches, within noise one
by one, and restored the same day with them: `make bench` side by side on the same machine gave
205.6 turns/s at 10 patients with all eight patches (3a7bc01), 102.6 without these five (438d268).
"""

from __future__ import annotations

from typing import List, Optional

from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from rasa_addons.patches import Swaps


def _combine_features(features: List[Features], featurizers: List[str]) -> Optional[Features]:
    """Rasa's `Message._combine_features`, with a plain copy of the first matrix."""
    combined: Optional[Features] = None
    for feature in features:
        if combined is None:
            combined = Features(feature.features.copy(), feature.type, feature.attribute, featurizers)
        else:
            combined.combine_with_features(feature)
    return combined


_swaps = Swaps(__name__, (Message, "_combine_features", staticmethod(_combine_features)))


def apply() -> None:
    _swaps.apply()


def revert() -> None:
    _swaps.revert()
