"""Changes to Rasa's own code, each in its own module, applied only when asked.

Nothing here changes Rasa on import. The Rasa launcher (`python -m rasa_addons.serve ...`, which
`make run`, `make test-stories` and the tests' servers use) calls `apply_all()` before it hands
over to Rasa's command line; `make eval` (tools/evaluate.py) calls it before loading the model.
So production, the story tests and the held-out evaluation run the same Rasa.

Each patch was written against one Rasa release (`RASA_VERSION`) and refuses any other: a newer
Rasa may have changed, fixed or moved what it replaces. Each module says what it fixes and what
it was measured to gain (`python -m tools.bench_patches`); tests/test_patches.py checks each one
gives what stock Rasa gives, and that `revert()` puts Rasa's own code back exactly.

Five patches were dropped on 2026-11-29, their gain in CPU per turn within the run-to-run noise
of tools/bench_patches.py one by one (together about 1.6 ms of about 11 ms), and restored the
same day: `make bench` at 50 patients showed throughput halved without them, and measured side
by side on the same machine the code with its eight patches (3a7bc01) answered 205.6 turns/s at
10 patients, the code without them (438d268) 102.6. A turn's CPU alone does not show what they
save when patients wait on each other. They are: one kept HTTP session to the action server
(action_session), the logistic-regression weights in Fortran order (classifier_weights), a plain
copy instead of `copy.deepcopy` when combining features (feature_copy; with classifier_rows
applied nothing on the server's path calls it), the classifier rows built straight from the
sentence features (classifier_rows) and skipping the policy run that only predicts
`action_listen` after `action_respond` (skip_listen_prediction).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, List, Tuple

#: The Rasa release every patch here was written for and measured on.
RASA_VERSION = "3.6.21"

#: The patches, in the order they are applied (modules of this package).
PATCHES: Tuple[str, ...] = (
    "action_validation",
    "action_session",
    "classifier_weights",
    "feature_copy",
    "graph_runner",
    "classifier_rows",
    "skip_listen_prediction",
    "gc_freeze",
)


class PatchError(RuntimeError):
    """A patch cannot be applied (another Rasa release, or an unknown patch)."""


def rasa_version() -> str:
    import rasa

    return str(rasa.__version__)


def check_version(patch: str) -> None:
    found = rasa_version()
    if found != RASA_VERSION:
        raise PatchError(
            f"The Rasa patch {patch!r} was written for Rasa {RASA_VERSION}, found {found}: check what it replaces "
            f"in the new release, measure it again (python -m tools.bench_patches) and update RASA_VERSION."
        )


def module(name: str) -> ModuleType:
    """One patch's module (imported on first use; importing it changes nothing)."""
    if name not in PATCHES:
        raise PatchError(f"No Rasa patch named {name!r}; the patches are {', '.join(PATCHES)}.")
    check_version(name)  # before importing: the module itself imports what it replaces
    return importlib.import_module(f"{__name__}.{name}")


def apply_all() -> None:
    """Applies every patch (each one at most once). Refuses, changing nothing, on another Rasa release."""
    check_version("all")
    for name in PATCHES:
        module(name).apply()


def revert_all() -> None:
    """Puts back Rasa's own code for every applied patch."""
    for name in reversed(PATCHES):
        if name in applied():
            module(name).revert()


def applied() -> List[str]:
    """The names of the patches in effect now."""
    return [name for name in PATCHES if name in _SWAPS and _SWAPS[name].applied]


class Swaps:
    """The attributes one patch replaces: sets them, remembers Rasa's own, puts those back.

    Each attribute is taken from and restored to the owner's own `__dict__` (so a staticmethod
    comes back as the same staticmethod object).
    """

    def __init__(self, patch: str, *replacements: Tuple[Any, str, Any]) -> None:
        self.patch = patch.rsplit(".", 1)[-1]
        self.replacements = replacements
        self.originals: List[Tuple[Any, str, Any]] = []
        _SWAPS[self.patch] = self

    @property
    def applied(self) -> bool:
        return bool(self.originals)

    def original(self, owner: Any, attribute: str) -> Any:
        """Rasa's own value of a replaced attribute, as it was before `apply()`."""
        for known_owner, name, value in self.originals:
            if known_owner is owner and name == attribute:
                return value
        return vars(owner)[attribute]

    def apply(self) -> None:
        check_version(self.patch)
        if self.applied:
            return
        for owner, attribute, _ in self.replacements:
            if attribute not in vars(owner):
                raise PatchError(
                    f"The Rasa patch {self.patch!r} expects {owner.__name__}.{attribute}; it is not there."
                )
        self.originals = [(owner, attribute, vars(owner)[attribute]) for owner, attribute, _ in self.replacements]
        for owner, attribute, replacement in self.replacements:
            setattr(owner, attribute, replacement)

    def revert(self) -> None:
        for owner, attribute, value in reversed(self.originals):
            setattr(owner, attribute, value)
        self.originals = []


_SWAPS: dict = {}
