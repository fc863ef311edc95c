"""rasa_addons/speedups.py: each speed fix gives what stock Rasa gives, only sooner."""

from __future__ import annotations

import asyncio
import copy

import numpy as np
import pytest
import scipy.sparse
import yaml
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.core.events import ActionExecuted, BotUttered, FollowupAction, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

from rasa_addons import speedups
from tests.conftest import ROOT

speedups.apply()

#: Conversations that touch every reply kind, a follow-up, a fallback and a red flag.
CONVERSATION = [
    "hi",
    "what is dry needling?",
    "does it hurt",
    "how long does that last",
    "asdfgh qwe",
    "I have chest pain and can't breathe",
    "should I stop my blood thinners before it",
    "/feedback_helpful",
    "thanks",
    "bye",
]


def test_the_faster_action_result_check_accepts_and_refuses_like_rasa():
    import jsonschema

    action = RemoteAction("action_respond", None)
    good = {"events": [], "responses": [{"text": "hi"}, {"custom": {"kind": "greeting"}}]}
    assert action._validate_action_result(good) is True
    jsonschema.validate(good, RemoteAction.action_response_format_spec())  # Rasa's own check agrees
    bad = {"events": "not a list", "responses": []}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError):
        action._validate_action_result(bad)


def test_fortran_ordered_weights_give_the_same_probabilities():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(0)
    features = scipy.sparse.random(200, 500, density=0.02, format="csr", random_state=rng)
    y = rng.randint(0, 5, size=200)
    clf = LogisticRegression(max_iter=200).fit(features, y)
    before = clf.predict_proba(features[:20])
    clf.coef_ = np.asfortranarray(clf.coef_)
    assert clf.coef_.T.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(clf.predict_proba(features[:20]), before, rtol=1e-12)


def test_combining_features_without_deepcopy_gives_the_same_features():
    parts = [
        Features(scipy.sparse.random(1, 30, density=0.3, format="coo", random_state=seed), "sentence", "text", name)
        for seed, name in ((1, "a"), (2, "b"))
    ]
    original = copy.deepcopy(parts[0])
    original.origin = ["a", "b"]
    original.combine_with_features(parts[1])
    faster = speedups._combine_features(parts, ["a", "b"])
    assert faster.origin == ["a", "b"] and faster.type == "sentence" and faster.attribute == "text"
    np.testing.assert_array_equal(faster.features.toarray(), original.features.toarray())
    assert parts[0].features.shape == (1, 30)  # the input is not changed


def featurised(seed: int, dense: bool = False) -> Message:
    message = Message(data={"text": "a question"})
    if dense:  # first, so the rows must still put the sparse features before it, as Rasa does
        message.add_features(Features(np.arange(3.0).reshape(1, 3), "sentence", "text", "encoder"))
    for number, (width, kind) in enumerate(((40, "sentence"), (7, "sequence"), (25, "sentence"))):
        rows = 1 if kind == "sentence" else 3
        matrix = scipy.sparse.random(rows, width, density=0.3, format="coo", random_state=seed + number)
        message.add_features(Features(matrix, kind, "text", f"featurizer-{number}"))
    message.add_features(Features(scipy.sparse.random(1, 9, density=0.5, format="coo"), "sentence", "intent", "other"))
    if dense:
        message.add_features(Features(np.ones((1, 4)), "sentence", "text", "dense"))
    return message


def test_the_classifier_rows_match_rasas_own():
    messages = [featurised(seed) for seed in (1, 5, 9)]
    classifier = LogisticRegressionClassifier.__new__(LogisticRegressionClassifier)
    ours = speedups._create_x(classifier, messages)
    stock = speedups._original_create_x(classifier, messages)
    assert ours.shape == stock.shape == (3, 65)
    np.testing.assert_array_equal(ours.toarray(), stock.toarray())


def test_rows_with_dense_features_match_rasas_own():
    messages = [featurised(seed, dense=True) for seed in (3, 4)]
    classifier = LogisticRegressionClassifier.__new__(LogisticRegressionClassifier)
    ours = speedups._create_x(classifier, messages)
    assert ours.shape == (2, 72)
    np.testing.assert_array_equal(ours.toarray(), speedups._original_create_x(classifier, messages).toarray())


def test_the_turn_ends_only_after_an_action_that_logged_replies_and_slots():
    def tracker(*events):
        return DialogueStateTracker.from_events("s", [ActionExecuted("action_listen"), UserUttered("hi"), *events])

    respond = ActionExecuted("action_respond")
    assert speedups._only_replies_since(tracker(respond), "action_respond")
    assert speedups._only_replies_since(
        tracker(respond, BotUttered("hello"), SlotSet("last_topic", "x")), "action_respond"
    )
    assert not speedups._only_replies_since(tracker(respond, FollowupAction("action_other")), "action_respond")
    assert not speedups._only_replies_since(tracker(ActionExecuted("action_other")), "action_respond")
    assert not speedups._only_replies_since(tracker(), "action_respond")


def test_every_rule_and_story_ends_the_turn_after_a_turn_ending_action():
    """What point 7 of speedups.py relies on: nothing follows these actions but the next message."""
    files = sorted((ROOT / "data").rglob("*.yml")) + sorted((ROOT / "tests" / "stories").glob("*.yml"))
    checked = 0
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for flow in document.get("rules", []) + document.get("stories", []):
            steps = flow.get("steps", [])
            for position, step in enumerate(steps):
                if step.get("action") in speedups.TURN_ENDING_ACTIONS:
                    checked += 1
                    following = steps[position + 1] if position + 1 < len(steps) else {}
                    assert not following or "intent" in following or "user" in following, (
                        f"{path.name}, {flow.get('rule') or flow.get('story')}: {following} follows "
                        f"{step['action']}; remove it from speedups.TURN_ENDING_ACTIONS"
                    )
    assert checked > 40


def test_the_graph_runner_refuses_an_input_named_like_a_node(model_path):
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path))
    runner = agent.processor.graph_runner
    node = next(iter(runner._graph_schema.nodes))
    with pytest.raises(GraphRunError):
        runner.run(inputs={"__message__": node}, targets=[agent.processor.model_metadata.nlu_target])


def event_log(tracker: DialogueStateTracker) -> list:
    log = []
    for event in tracker.events:
        data = event.as_dict()
        data.pop("timestamp", None)  # and the random message id
        data.pop("message_id", None)
        data.get("parse_data", {}).pop("message_id", None)
        log.append(data)
    return log


async def converse(agent, sender: str) -> list:
    replies = []
    for text in CONVERSATION:
        collector = CollectingOutputChannel()
        await agent.handle_message(UserMessage(text, collector, sender))
        replies.append([{**message, "recipient_id": "patient"} for message in collector.messages])
    return [replies, event_log(await agent.tracker_store.retrieve(sender))]


def test_a_conversation_is_the_same_with_and_without_the_speed_fixes(stack, model_path, monkeypatch):
    """Same replies, and the same events, with every confidence and policy name, in the tracker."""
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    agent = Agent.load(str(model_path), action_endpoint=EndpointConfig(f"{stack.config.actions_url}/webhook"))
    fast = asyncio.run(converse(agent, "fast"))
    with monkeypatch.context() as stock:
        stock.setattr(DaskGraphRunner, "run", speedups._original_run_graph)
        stock.setattr(LogisticRegressionClassifier, "_create_X", speedups._original_create_x)
        stock.setattr(MessageProcessor, "_run_action", speedups._original_run_action)
        slow = asyncio.run(converse(agent, "slow"))
    assert len(fast[0]) == len(CONVERSATION) and all(fast[0])
    assert fast == slow


async def test_both_channels_freeze_what_the_server_loaded_once_it_has_started():
    import gc

    from rasa_addons.channels import GuardedRestInput, GuardedSocketIOInput

    async def ignore(message) -> None:
        return None

    for channel in (GuardedRestInput(), GuardedSocketIOInput()):
        listeners = [(f.event, f.listener) for f in channel.blueprint(ignore)._future_listeners]
        assert ("after_server_start", speedups.freeze_loaded_objects) in listeners
    gc.unfreeze()
    kept: list = []
    assert any(tracked is kept for tracked in gc.get_objects())
    await speedups.freeze_loaded_objects()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert not any(tracked is kept for tracked in gc.get_objects())  # out of the collector's sight
        late: list = []
        await speedups.freeze_loaded_objects()  # the second channel's call does nothing
        assert gc.get_freeze_count() == frozen
        assert any(tracked is late for tracked in gc.get_objects())
    finally:
        gc.unfreeze()
