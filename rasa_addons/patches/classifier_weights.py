"""Keeps the logistic-regression weights in Fortran order, so predicting copies nothing.

The intent classifier (`LogisticRegressionClassifier`) predicts with scikit-learn's
`predict_proba`, which multiplies each message's sparse row by the transposed weight matrix.
The loaded weights are in C order (today 51 intents x 21,735 features, 8.9 MB), so their
transpose is not C-contiguous and scipy copies all of it for every message. Here the classifier's
`process` first stores the weights in Fortran order, once per loaded classifier: the transpose is
then a free view, the very same numbers are multiplied in the same order, and the probabilities
are identical to the last bit. `revert()` puts the C-ordered weights (the same array) back.

Rasa's graph takes each component's function when it loads the model (`GraphNode._fn`), so this
reaches a model loaded after `apply()`, as the launcher, `make eval` and tools/bench_patches.py
load it; a model loaded before keeps Rasa's `process`. A model loaded while it was applied keeps
this `process`, which does nothing more than Rasa's once the patch is reverted.

Measured 2026-11-29 on today's model, the 750 held-out messages featurised by it: predicting took
2.07 ms a message with the weights in C order, 0.58 ms in Fortran order (with the rows of
classifier_rows.py, 1.12 ms and 0.21 ms). tools/bench_patches.py had measured -0.14 ms a turn
(noise 0.80 ms), so it was dropped that day with four other patches, within noise one by one; but
the bench loaded the model before applying any patch, so this one never reached it (see above):
that figure was noise alone. Restored the same day: `make bench` side by side on the same machine
gave 205.6 turns/s at 10 patients with all eight patches (3a7bc01), 102.6 without these five
(438d268).
"""

from __future__ import annotations

import weakref
from typing import Any, List, Tuple

import numpy as np
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.training_data.message import Message

from rasa_addons.patches import Swaps

#: Rasa's own `LogisticRegressionClassifier.process`.
_process_stock = vars(LogisticRegressionClassifier)["process"]

#: Each scikit-learn model whose weights were reordered: (Rasa's C-ordered weights, the same in
#: Fortran order). Both are kept, so `revert()` and a later `apply()` swap them without a copy.
_orders: weakref.WeakKeyDictionary[Any, Tuple[np.ndarray, np.ndarray]] = weakref.WeakKeyDictionary()


def fortran_ordered(model: Any) -> None:
    """Stores a fitted model's weights (`coef_`) in Fortran order: the same numbers."""
    coef = getattr(model, "coef_", None)
    if coef is None or coef.flags["F_CONTIGUOUS"]:
        return
    known = _orders.get(model)
    if known is None or known[0] is not coef:  # first time, or the model was fitted again
        known = _orders[model] = (coef, np.asfortranarray(coef))
    model.coef_ = known[1]


def _process(self: LogisticRegressionClassifier, messages: List[Message]) -> List[Message]:
    """Rasa's `process`, with the weights in Fortran order while the patch is applied."""
    if _swaps.applied:  # a model loaded while applied keeps this function: reverted, it is Rasa's
        fortran_ordered(self.clf)
    return _process_stock(self, messages)


_swaps = Swaps(__name__, (LogisticRegressionClassifier, "process", _process))


def apply() -> None:
    _swaps.apply()


def revert() -> None:
    _swaps.revert()
    for model, (stock, fortran) in list(_orders.items()):
        if model.coef_ is fortran:
            model.coef_ = stock
