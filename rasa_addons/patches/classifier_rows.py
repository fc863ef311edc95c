"""Builds the intent classifier's input rows straight from each message's sentence features.

Rasa 3.6's `LogisticRegressionClassifier._create_X` gets each message's combined sparse and
dense features, sequence and sentence (`get_sparse_features`, `get_dense_features`: a copy of
each and scipy stacks, the sequence ones, a row per token, thrown away), stacks the sentence ones
side by side, then the messages one under another. Here the same CSR matrix is built in one go
from the text's sentence features: per message the sparse ones, then the dense ones (with our
pipeline the word counts, the character n-gram counts, then the sentence vector), each in the
order the featurizers added them, as Rasa orders them. The same shape, dtype, column indices and
numbers, in the same order, so the same probabilities to the last bit; messages whose widths
differ are refused with a `ValueError`, as Rasa's stack refuses them.

Measured 2026-11-29 on today's model (CountVectorsFeaturizer twice and the sentence vector of
rasa_addons/components.py), the 750 held-out messages: identical rows for every message (data,
column indices, dtype) and identical probabilities; building a row took 0.51 ms with Rasa's code,
0.15 ms here. tools/bench_patches.py had measured +0.53 ms a turn without it (noise 0.85 ms), so
it was dropped that day with four others, within noise one by one, and restored the same day:
`make bench` side by side on the same machine gave 205.6 turns/s at 10 patients with all eight
patches (3a7bc01), 102.6 without these five (438d268).
"""

from __future__ import annotations

from typing import Any, List

import numpy as np
import scipy.sparse
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message

from rasa_addons.patches import Swaps


def _create_x(self: LogisticRegressionClassifier, messages: List[Message]) -> scipy.sparse.csr_matrix:
    """The classifier's input rows, from the sentence features alone: the sparse ones first, then
    the dense ones, as Rasa's own `_create_X` orders them."""
    rows = []
    for message in messages:
        parts = [
            feature.features
            for feature in message.features
            if feature.attribute == TEXT and feature.type == FEATURE_TYPE_SENTENCE
        ]
        sparse = [part for part in parts if scipy.sparse.issparse(part)]
        dense = [scipy.sparse.csr_matrix(part) for part in parts if not scipy.sparse.issparse(part)]
        rows.append((sparse, dense))
    return _stack_rows(rows)


def _row_dtype(sparse: List[Any], dense: List[Any]) -> np.dtype:
    """The dtype Rasa's stacks give a row: a missing kind counts as an empty float64 matrix."""
    sparse_dtypes = [part.dtype for part in sparse] or [np.float64]
    dense_dtypes = [part.dtype for part in dense] or [np.float64]
    return np.result_type(*sparse_dtypes, *dense_dtypes)


def _stack_rows(rows: List[Any]) -> scipy.sparse.csr_matrix:
    """One CSR matrix: each message's sentence matrices side by side, messages one under another."""
    data: List[np.ndarray] = []
    columns: List[np.ndarray] = []
    indptr = [0]
    widths = set()
    dtypes = []
    for sparse, dense in rows:
        offset = nonzero = 0
        for part in sparse + dense:
            coo = part.tocoo()
            data.append(coo.data)
            columns.append(coo.col.astype(np.int64) + offset)
            offset += part.shape[1]
            nonzero += coo.nnz
        widths.add(offset)
        dtypes.append(_row_dtype(sparse, dense))
        indptr.append(indptr[-1] + nonzero)
    if len(widths) > 1:
        raise ValueError(f"messages differ in their number of sentence features: {sorted(widths)}")
    dtype = np.result_type(*dtypes) if dtypes else np.float64
    shape = (len(rows), widths.pop() if widths else 0)
    matrix = scipy.sparse.csr_matrix(
        (
            np.concatenate(data).astype(dtype, copy=False) if data else np.zeros(0, dtype),
            np.concatenate(columns) if columns else np.zeros(0, np.int64),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=shape,
    )
    if not matrix.has_canonical_format:  # Rasa's stacks sort each row's columns and sum repeats
        matrix.sum_duplicates()
    return matrix


_swaps = Swaps(__name__, (LogisticRegressionClassifier, "_create_X", _create_x))


def apply() -> None:
    _swaps.apply()


def revert() -> None:
    _swaps.revert()
