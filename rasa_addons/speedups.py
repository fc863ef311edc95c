"""Measured speed fixes for Rasa 3.6, applied when the Rasa server imports our channels.

1. Rasa validates every action-server response with `jsonschema.validate`, which re-checks the
   schema itself on each call: about 40 % of the Rasa server's CPU under load (py-spy). We
   validate against the same schema with one validator built once: same checks, same errors.
2. Rasa opens a new HTTP session, so a new TCP connection, for every call to the action
   server. We keep one session per endpoint, reuse its connections, and encode the request
   (the whole tracker and domain, each turn) with ujson instead of the slower standard json.
3. The logistic-regression intent classifier multiplies each message's sparse features by the
   transposed weight matrix; with the weights in C order that transpose is copied on every
   message (11,000 features x 50 intents). Storing them in Fortran order makes the transpose a
   free view: same numbers, parse time 3.8 ms -> about 2.3 ms.
4. Combining a message's features started with `copy.deepcopy` of a sparse matrix (pickle
   machinery); a plain copy of the matrix gives the same object for a fraction of the cost.
5. Rasa runs each model graph (the NLU pipeline, then the policies) through dask, which plans
   the graph again on every call: about an eighth of the server's CPU went to dask itself. The
   graphs are small and run one node at a time anyway (dask's synchronous scheduler), so we run
   the same nodes in a dependency order worked out once per set of targets.
6. The logistic-regression classifier built each message's row from the combined sequence and
   sentence features (three scipy stacks, the sequence ones thrown away). We build the same
   row straight from the sentence features: the sparse ones, then the dense ones (the sentence
   vector), in Rasa's order.
7. After `action_respond` every rule in data/rules/ ends the turn (the policy predicts
   `action_listen`), yet Rasa ran the whole policy ensemble a second time to learn that. When
   `action_respond` returns only replies and slots, we log the `action_listen` the policy would
   have predicted and skip that second run. tests/test_speedups.py checks that the rules and
   stories still end each `action_respond` that way.
8. Python's full garbage collections walked every object of the loaded model, TensorFlow and
   spaCy (millions, all alive until the server stops): turns that hit one waited about 300 ms
   (p99 500 ms at 50 patients). Once the server has loaded the model, our channels move
   what is loaded out of the collector's sight (`gc.freeze`); p99 falls to about 220 ms. A model
   swapped in through Rasa's HTTP API would keep the old one in memory: restart instead
   (`make run` does).
9. The tracker store: see rasa_addons/tracker_store.py.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from typing import Any, Dict, List, Optional, Tuple

import jsonschema
import numpy as np
import scipy.sparse
import ujson
from rasa.core.actions.action import RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

#: Actions after which every rule ends the turn (see point 7 above).
TURN_ENDING_ACTIONS = frozenset({"action_respond"})


@functools.lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    return jsonschema.validators.validator_for(schema)(schema)


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    error = jsonschema.exceptions.best_match(_action_result_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            "Action endpoint is valid."
        )
        raise error
    return True


_original_session = EndpointConfig.session


class _ReusedSession:
    """`async with endpoint.session()` that hands out one long-lived session and never closes it."""

    def __init__(self, endpoint: EndpointConfig) -> None:
        self.endpoint = endpoint

    async def __aenter__(self) -> Any:
        loop = asyncio.get_running_loop()
        kept = getattr(self.endpoint, "_needlewise_session", None)
        if kept is None or kept[0] is not loop or kept[1].closed:  # a session belongs to one event loop
            session = _original_session(self.endpoint)
            session._json_serialize = ujson.dumps
            kept = self.endpoint._needlewise_session = (loop, session)
        return kept[1]

    async def __aexit__(self, *exc: Any) -> None:
        return None


def _session(self: EndpointConfig) -> Any:
    return _ReusedSession(self)


_original_process = LogisticRegressionClassifier.process
_original_run_graph = DaskGraphRunner.run
_original_create_x = LogisticRegressionClassifier._create_X
_original_run_action = MessageProcessor._run_action


def _process(self: LogisticRegressionClassifier, messages: Any) -> Any:
    coef = self.clf.coef_
    if not coef.flags["F_CONTIGUOUS"]:
        self.clf.coef_ = np.asfortranarray(coef)
    return _original_process(self, messages)


def _combine_features(features: List[Features], featurizers: List[str]) -> Optional[Features]:
    """Rasa's Message._combine_features, with a plain copy of the first matrix."""
    combined: Optional[Features] = None
    for feature in features:
        if combined is None:
            combined = Features(feature.features.copy(), feature.type, feature.attribute, featurizers)
        else:
            combined.combine_with_features(feature)
    return combined


def _execution_order(runner: DaskGraphRunner, targets: Tuple[str, ...]) -> List[str]:
    """The nodes the targets need, each after the nodes it needs; worked out once per runner."""
    orders = runner.__dict__.setdefault("_needlewise_orders", {})
    if targets not in orders:
        nodes = runner._graph_schema.nodes
        order: List[str] = []
        seen: set = set()

        def visit(name: str) -> None:
            if name in seen or name not in nodes:
                return
            seen.add(name)
            for needed in nodes[name].needs.values():
                visit(needed)
            order.append(name)

        for target in targets:
            visit(target)
        orders[targets] = order
    return orders[targets]


def _run_graph(
    self: DaskGraphRunner, inputs: Optional[Dict[str, Any]] = None, targets: Optional[List[str]] = None
) -> Dict[str, Any]:
    """DaskGraphRunner.run without dask: the same nodes, inputs, outputs and errors."""
    run_targets = list(targets if targets else self._graph_schema.target_names)
    results: Dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and value in self._graph_schema.nodes:
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure that none of the input names "
                f"passed to the `run` method are the same as node names in the graph schema."
            )
        results[name] = (name, value)
    nodes = self._graph_schema.nodes
    try:
        for name in _execution_order(self, tuple(run_targets)):
            if name not in results:  # an input given under a node's name replaces that node, as in dask
                needs = nodes[name].needs.values()
                results[name] = self._instantiated_nodes[name](*(results.get(need, need) for need in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(results[target] for target in run_targets)


def _create_x(self: LogisticRegressionClassifier, messages: List[Message]) -> Any:
    """The classifier's input rows, built from the sentence features alone: the sparse ones
    first, then the dense ones, as Rasa's own `_create_X` orders them."""
    rows = []
    for message in messages:
        parts = [
            feature.features for feature in message.features if feature.attribute == TEXT and feature.type == "sentence"
        ]
        sparse = [part for part in parts if scipy.sparse.issparse(part)]
        dense = [scipy.sparse.csr_matrix(part) for part in parts if not scipy.sparse.issparse(part)]
        rows.append(sparse + dense)
    return _stack_rows(rows)


def _stack_rows(rows: List[List[Any]]) -> Any:
    """One CSR matrix: each message's sentence matrices side by side, messages one under another."""
    data, columns, indptr = [np.zeros(0)], [np.zeros(0, dtype=np.int64)], [0]
    widths = set()
    for parts in rows:
        offset = nonzero = 0
        for part in parts:
            coo = part.tocoo()
            data.append(coo.data)
            columns.append(coo.col.astype(np.int64) + offset)
            offset += part.shape[1]
            nonzero += coo.nnz
        widths.add(offset)
        indptr.append(indptr[-1] + nonzero)
    if len(widths) > 1:
        raise ValueError(f"messages differ in their number of sentence features: {sorted(widths)}")
    shape = (len(rows), widths.pop() if widths else 0)
    return scipy.sparse.csr_matrix((np.concatenate(data), np.concatenate(columns), indptr), shape=shape)


async def _run_action(
    self: MessageProcessor, action: Any, tracker: Any, output_channel: Any, nlg: Any, prediction: Any
) -> bool:
    predict_more = await _original_run_action(self, action, tracker, output_channel, nlg, prediction)
    if predict_more and action.name() in TURN_ENDING_ACTIONS and _only_replies_since(tracker, action.name()):
        listen = ActionExecuted(
            ACTION_LISTEN_NAME, policy=prediction.policy_name, confidence=1.0, hide_rule_turn=prediction.hide_rule_turn
        )
        tracker.update(listen)
        return False
    return predict_more


def _only_replies_since(tracker: Any, action_name: str) -> bool:
    """Whether the action ran and logged nothing but replies and slots (nothing that steers the dialogue)."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            return event.action_name == action_name
        if not isinstance(event, (BotUttered, SlotSet)):
            return False
    return False


async def freeze_loaded_objects(*_: Any) -> None:
    """A Sanic `after_server_start` listener: by then Rasa has loaded the model (before start).
    Each channel registers it; it works once per process."""
    if gc.get_freeze_count():
        return
    gc.collect()
    gc.freeze()
    logger.debug("Froze %d objects loaded at start.", gc.get_freeze_count())


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result
    EndpointConfig.session = _session
    LogisticRegressionClassifier.process = _process
    Message._combine_features = staticmethod(_combine_features)
    DaskGraphRunner.run = _run_graph
    LogisticRegressionClassifier._create_X = _create_x
    MessageProcessor._run_action = _run_action
