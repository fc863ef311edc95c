"""Runs each model graph's nodes in an order worked out once, without dask.

Rasa 3.6 runs each model graph (the NLU pipeline, then the policies) through dask, which plans
the graph again on every call: about an eighth of the Rasa server's CPU went to dask itself
(py-spy). The graphs are small and dask's synchronous scheduler runs one node at a time anyway,
so `DaskGraphRunner.run` here runs the same nodes, with the same inputs, in a dependency order
worked out once per runner and set of targets: the same outputs and the same errors.

Measured 2026-11-29 (python -m tools.bench_patches: held-out conversations through the real
model and action server, 360 turns x 8 rounds, CPU time per turn of the Rasa process and the
action server): leaving it out costs +1.03 ms per turn (+0.80..+1.38 over rounds; +10 % of
the 10.8 ms with all patches), run-to-run noise 0.43 ms. An earlier run the same day: +1.00 ms,
noise 0.86 ms.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

from rasa_addons.patches import Swaps


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


def _run(
    self: DaskGraphRunner, inputs: Optional[Dict[str, Any]] = None, targets: Optional[List[str]] = None
) -> Dict[str, Any]:
    """`DaskGraphRunner.run` without dask: the same nodes, inputs, outputs and errors."""
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


_swaps = Swaps(__name__, (DaskGraphRunner, "run", _run))


def apply() -> None:
    _swaps.apply()


def revert() -> None:
    _swaps.revert()
