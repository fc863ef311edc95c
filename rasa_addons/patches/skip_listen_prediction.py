"""Ends the turn after `action_respond` without running the policies again to learn so.

After each action Rasa 3.6 runs the whole policy graph again to predict the next one. Every
rule of data/rules/ is one user message then `action_respond`, so after `action_respond` chosen
by a rule, the next prediction is always that rule's `action_listen`: a whole second policy run
each turn only to end it. Here, when a rule chose `action_respond` (RulePolicy, confidence 1)
and the action logged nothing but replies and slots (no follow-up action, pause, restart or
anything else that steers the dialogue), the `ActionExecuted('action_listen')` the policy would
have predicted is logged at once (RulePolicy, confidence 1, the rule's `hide_rule_turn`) and the
turn ends, as Rasa's loop ends it after `action_listen`. Any other case (core fallback, a
follow-up action, another action) runs the policies as Rasa does. tests/test_patches.py checks that
no rule or test story has anything but the next user message after `action_respond`, and that
conversations log the very same events with and without this patch.

Measured 2026-11-29: one policy run per answered turn instead of two (every intent of the domain,
tests/test_patches.py). tools/bench_patches.py had measured +0.58 ms a turn without it (noise 0.81
ms; per turn the CPU alone), so it was dropped that day with four others, within noise one by
one, and restored the same day: `make bench` side by side on the same machine gave 205.6 turns/s
at 10 patients with all eight patches (3a7bc01), 102.6 without these five (438d268).
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet

from rasa_addons.patches import Swaps

#: Actions after which every rule ends the turn (checked against data/rules/ by the tests).
TURN_ENDING_ACTIONS = frozenset({"action_respond"})

#: Rasa's own `MessageProcessor._run_action`.
_run_action_stock = vars(MessageProcessor)["_run_action"]


def chosen_by_a_rule(prediction: Any) -> bool:
    """Whether a rule predicted the action (not RulePolicy's core fallback, nor a follow-up action)."""
    return prediction.policy_name == RulePolicy.__name__ and prediction.max_confidence == 1.0


def only_replies_since(tracker: Any, action_name: str) -> bool:
    """Whether the action ran last and logged nothing but replies and slots."""
    for event in reversed(tracker.events):
        if isinstance(event, ActionExecuted):
            return event.action_name == action_name
        if not isinstance(event, (BotUttered, SlotSet)):
            return False
    return False


def ends_the_turn(action_name: str, tracker: Any, prediction: Any) -> bool:
    return (
        action_name in TURN_ENDING_ACTIONS
        and chosen_by_a_rule(prediction)
        and not tracker.followup_action
        and only_replies_since(tracker, action_name)
    )


async def _run_action(
    self: MessageProcessor, action: Any, tracker: Any, output_channel: Any, nlg: Any, prediction: Any
) -> bool:
    """Rasa's `_run_action`; after a turn-ending action, logs `action_listen` and ends the turn."""
    predict_more = await _run_action_stock(self, action, tracker, output_channel, nlg, prediction)
    if predict_more and ends_the_turn(action.name(), tracker, prediction):
        listen = ActionExecuted(
            ACTION_LISTEN_NAME,
            policy=prediction.policy_name,
            confidence=1.0,
            hide_rule_turn=prediction.hide_rule_turn,
        )
        tracker.update(listen)
        return False
    return predict_more


_swaps = Swaps(__name__, (MessageProcessor, "_run_action", _run_action))


def apply() -> None:
    _swaps.apply()


def revert() -> None:
    _swaps.revert()
