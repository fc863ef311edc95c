"""rasa_addons/patches/: each patch gives what stock Rasa gives, only sooner; none applies by itself.

For every patch: the same behaviour with and without it; `revert()` puts back Rasa's own
attributes (the very same objects); another Rasa release is refused; applying twice changes
nothing more. Importing any of our modules leaves Rasa as it was. Every test starts and ends with
stock Rasa (the autouse fixture), so no patch leaks into other test files.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import subprocess
import sys
import textwrap

import jsonschema
import numpy as np
import pytest
import scipy.sparse
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.engine.exceptions import GraphRunError
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.endpoints import EndpointConfig

from rasa_addons import patches
from rasa_addons.patches import PATCHES, RASA_VERSION, PatchError
from tests.conftest import ROOT

LOGISTIC_REGRESSION = "rasa.nlu.classifiers.logistic_regression_classifier"

#: Every attribute a patch replaces: (module, owner in it or "" for the module itself, attribute).
#: Written out, not read from the patches, so the import test below can check them before any of
#: our code is imported.
TARGETS = {
    "action_validation": [("rasa.core.actions.action", "RemoteAction", "_validate_action_result")],
    "action_session": [("rasa.utils.endpoints", "EndpointConfig", "session")],
    "classifier_weights": [(LOGISTIC_REGRESSION, "LogisticRegressionClassifier", "process")],
    "feature_copy": [("rasa.shared.nlu.training_data.message", "Message", "_combine_features")],
    "graph_runner": [("rasa.engine.runner.dask", "DaskGraphRunner", "run")],
    "classifier_rows": [(LOGISTIC_REGRESSION, "LogisticRegressionClassifier", "_create_X")],
    "skip_listen_prediction": [("rasa.core.processor", "MessageProcessor", "_run_action")],
    "gc_freeze": [("rasa.core.run", "", "load_agent_on_start")],
}

#: The patches that change how a message is parsed (the rest change the dialogue or the server).
NLU_PATCHES = ["classifier_weights", "feature_copy", "classifier_rows"]

#: A conversation that touches every reply kind, a follow-up, a fallback and a red flag.
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


@pytest.fixture(autouse=True)
def stock_rasa():
    """Each test starts with stock Rasa and leaves it so."""
    patches.revert_all()
    yield
    patches.revert_all()


def owner_of(module: str, owner: str):
    found = importlib.import_module(module)
    return getattr(found, owner) if owner else found


def identical(now: list, before: list) -> bool:
    return len(now) == len(before) and all(a is b for a, b in zip(now, before, strict=True))


def all_replaced(now: list, before: list) -> bool:
    return len(now) == len(before) and all(a is not b for a, b in zip(now, before, strict=True))


def current(patch: str) -> list:
    """The objects now in each attribute the patch replaces, from the owners' own `__dict__`."""
    return [vars(owner_of(module, owner))[attribute] for module, owner, attribute in TARGETS[patch]]


# --- the registry ---------------------------------------------------------------------------------


def test_every_patch_module_is_registered_and_every_target_listed():
    folder = ROOT / "rasa_addons" / "patches"
    modules = {path.stem for path in folder.glob("*.py") if path.stem != "__init__"}
    assert modules == set(PATCHES) == set(TARGETS)
    for name in PATCHES:
        swaps = patches.module(name)._swaps
        listed = [(owner, attribute) for owner, attribute, _ in swaps.replacements]
        expected = [(owner_of(module, owner), attribute) for module, owner, attribute in TARGETS[name]]
        assert listed == expected, name


@pytest.mark.parametrize("name", PATCHES)
def test_each_patch_says_what_it_fixes_and_what_it_was_measured_to_gain(name):
    doc = patches.module(name).__doc__ or ""
    assert "Measured" in doc and "2026-11-29" in doc and "MEASURED_GAIN" not in doc, name


def test_this_is_the_rasa_the_patches_were_written_for():
    import rasa

    assert rasa.__version__ == RASA_VERSION


# --- apply, revert, twice, another Rasa: every patch --------------------------------------------


@pytest.mark.parametrize("name", PATCHES)
def test_revert_puts_back_rasas_own_attributes(name):
    stock = current(name)
    patch = patches.module(name)
    patch.apply()
    assert patches.applied() == [name]
    assert all_replaced(current(name), stock)
    patch.revert()
    assert patches.applied() == []
    assert identical(current(name), stock)


@pytest.mark.parametrize("name", PATCHES)
def test_applying_twice_changes_nothing_more(name):
    stock = current(name)
    patch = patches.module(name)
    patch.apply()
    patched = current(name)
    patch.apply()
    assert identical(current(name), patched)
    patch.revert()  # one revert is enough: the second apply did not take the patched code for Rasa's
    assert identical(current(name), stock)


@pytest.mark.parametrize("name", PATCHES)
def test_another_rasa_release_is_refused(name, monkeypatch):
    import rasa

    stock = current(name)
    patch = patches.module(name)
    monkeypatch.setattr(rasa, "__version__", "3.6.20")
    with pytest.raises(PatchError, match=r"written for Rasa 3\.6\.21, found 3\.6\.20"):
        patch.apply()
    with pytest.raises(PatchError, match=r"written for Rasa 3\.6\.21, found 3\.6\.20"):
        patches.module(name)
    assert identical(current(name), stock)


def test_apply_all_and_revert_all_cover_every_patch(monkeypatch):
    import rasa

    stock = {name: current(name) for name in PATCHES}
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(PatchError, match=r"found 3\.7\.0"):
        patches.apply_all()
    assert patches.applied() == []
    monkeypatch.undo()
    patches.apply_all()
    patches.apply_all()
    assert patches.applied() == list(PATCHES)
    assert all(all_replaced(current(name), stock[name]) for name in PATCHES)
    patches.revert_all()
    assert patches.applied() == []
    assert all(identical(current(name), stock[name]) for name in PATCHES)


def test_an_unknown_patch_is_refused():
    with pytest.raises(PatchError, match="No Rasa patch named"):
        patches.module("speedups")


def test_importing_any_of_our_modules_leaves_rasa_unpatched():
    """In a fresh interpreter: Rasa's attributes before and after importing every module of needlewise/,
    actions/ and rasa_addons/, and the tools that apply the patches."""
    script = textwrap.dedent(
        f"""
        import gc, importlib, json, pkgutil, sys
        targets = {json.dumps([target for listed in TARGETS.values() for target in listed])}

        def now():
            found = []
            for module, owner, attribute in targets:
                holder = importlib.import_module(module)
                found.append(vars(getattr(holder, owner) if owner else holder)[attribute])
            return found

        before = now()
        imported = []
        for package in ("needlewise", "actions", "rasa_addons"):
            root = importlib.import_module(package)
            imported.append(package)
            for info in pkgutil.walk_packages(root.__path__, package + "."):
                importlib.import_module(info.name)
                imported.append(info.name)
        for name in ("tools.evaluate", "tools.bench_patches"):  # they apply the patches in main() only
            importlib.import_module(name)
            imported.append(name)
        changed = [t for t, a, b in zip(targets, before, now()) if a is not b]
        print(json.dumps({{"imported": imported, "changed": changed, "frozen": gc.get_freeze_count()}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"rasa_addons.channels", "rasa_addons.serve", "rasa_addons.patches.gc_freeze", "tools.evaluate"} <= set(
        report["imported"]
    )
    assert report["changed"] == []
    assert report["frozen"] == 0


# --- each patch gives what stock Rasa gives -------------------------------------------------------


def outcome(check, value):
    try:
        return ("accepted", check(value))
    except jsonschema.ValidationError as error:
        return ("refused", error.message, list(error.path), error.validator)


def test_action_validation_accepts_and_refuses_like_rasa():
    action = RemoteAction("action_respond", None)
    results = [
        {"events": [], "responses": [{"text": "hi"}, {"custom": {"kind": "greeting"}}]},
        {"events": "not a list", "responses": []},
        {"events": [{"event": "slot"}], "responses": [{"text": 3}]},
        {"responses": "none"},
        {},
    ]
    stock = [outcome(action._validate_action_result, result) for result in results]
    patches.module("action_validation").apply()
    assert [outcome(action._validate_action_result, result) for result in results] == stock
    assert [kind for kind, *_ in stock] == ["accepted", "refused", "refused", "refused", "accepted"]


async def test_gc_freeze_loads_the_agent_as_rasa_does_then_freezes_once(monkeypatch):
    import rasa.core.run

    from rasa_addons.patches import gc_freeze

    calls = []

    async def stock_load(model_path, endpoints, remote_storage, app, loop):
        calls.append((model_path, endpoints, remote_storage, app, loop))
        return "the agent"

    monkeypatch.setattr(gc_freeze, "_load_agent_stock", stock_load)
    gc_freeze.apply()
    # serve_application looks the listener up in its module when it starts the server
    assert rasa.core.run.serve_application.__globals__["load_agent_on_start"] is gc_freeze._load_agent_on_start
    gc.unfreeze()
    try:
        kept: list = []
        agent = await rasa.core.run.load_agent_on_start("model.tar.gz", None, None, "app", "loop")
        assert agent == "the agent" and calls == [("model.tar.gz", None, None, "app", "loop")]
        frozen = gc.get_freeze_count()
        assert frozen > 0 and not any(tracked is kept for tracked in gc.get_objects())
        late: list = []
        gc_freeze.freeze_loaded_objects()  # once per process
        assert gc.get_freeze_count() == frozen and any(tracked is late for tracked in gc.get_objects())
    finally:
        gc.unfreeze()


# action_session


@contextlib.asynccontextmanager
async def echo_server():
    """A local HTTP server that answers each request with what it received and the client's port."""
    from aiohttp import web

    async def echo(request):
        return web.json_response(
            {
                "body": await request.json(),
                "query": dict(request.query),
                "headers": {name: request.headers.get(name) for name in ("X-Clinic", "Content-Type", "Authorization")},
                "port": request.transport.get_extra_info("peername")[1],
            }
        )

    app = web.Application()
    app.router.add_post("/webhook", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


#: A request body with what JSON encoders may disagree on: escapes, non-ASCII, floats, big numbers.
PAYLOAD = {
    "next_action": "action_respond",
    "tracker": {
        "events": [{"event": "user", "text": 'é/ü <b>"quoted"</b> \\ \n', "confidence": 0.30000000000000004}],
        "slots": {"big": 10**20, "tiny": 1e-320, "none": None, "flag": True, "list": [1.5, -2, "x"]},
        "latest_event_time": 1764451200.123456,
    },
    "domain": {"intents": ["greet", "urgent"], "entities": [], "slots": {}},
}


async def test_action_session_sends_the_same_requests_over_one_kept_connection():
    from rasa_addons.patches import action_session

    def received(replies):  # what the server got, less the client's port
        return [{key: value for key, value in reply.items() if key != "port"} for reply in replies]

    async with echo_server() as url:
        endpoint = EndpointConfig(f"{url}/webhook", headers={"X-Clinic": "north"}, token="s3cret")
        stock = [await endpoint.request(json=PAYLOAD) for _ in range(3)]
        action_session.apply()
        patched = [await endpoint.request(json=PAYLOAD) for _ in range(3)]
        session = getattr(endpoint, action_session.KEPT)[1]
        try:
            assert received(patched) == received(stock)
            assert [reply["body"] for reply in patched] == [PAYLOAD] * 3
            assert stock[0]["query"] == {"token": "s3cret"} and stock[0]["headers"]["X-Clinic"] == "north"
            assert len({reply["port"] for reply in stock}) == 3  # Rasa: a new connection each call
            assert len({reply["port"] for reply in patched}) == 1  # one kept connection
            assert not session.closed
        finally:
            await session.close()


def test_action_session_keeps_one_session_per_endpoint_and_event_loop():
    import aiohttp
    import ujson

    from rasa_addons.patches import action_session

    endpoint = EndpointConfig("http://127.0.0.1:9/webhook", basic_auth={"username": "u", "password": "p"})
    other = EndpointConfig("http://127.0.0.1:9/webhook")
    action_session.apply()

    async def sessions() -> list:
        async with endpoint.session() as first:
            pass
        async with endpoint.session() as second, other.session() as others:
            pass
        async with action_session._session_stock(endpoint) as stock:  # Rasa's own, for its settings
            pass
        assert first is second and others is not first and not first.closed
        assert first._json_serialize is ujson.dumps and stock._json_serialize is json.dumps
        assert (first.headers, first.auth, first.timeout) == (stock.headers, stock.auth, stock.timeout)
        assert first.auth == aiohttp.BasicAuth("u", "p")
        await first.close()
        async with endpoint.session() as third:  # a closed session is replaced
            pass
        assert third is not first and not third.closed
        await third.close()
        await others.close()
        return [first, third]

    one, another = asyncio.run(sessions()), asyncio.run(sessions())
    assert not set(map(id, one)) & set(map(id, another))  # a session belongs to its event loop


# classifier_weights, feature_copy, classifier_rows: real Rasa messages and classifier


def featurised(seed: int, dense: bool = False) -> Message:
    """A message with sparse sentence and sequence features of the text (and, with `dense`, a dense
    sentence feature first and last), and a feature of another attribute."""
    message = Message(data={"text": "a question"})
    if dense:  # first, so the rows must still put the sparse features before it, as Rasa does
        message.add_features(Features(np.arange(3.0).reshape(1, 3), "sentence", "text", "encoder"))
    for number, (width, kind) in enumerate(((40, "sentence"), (7, "sequence"), (25, "sentence"))):
        rows = 1 if kind == "sentence" else 3
        matrix = scipy.sparse.random(rows, width, density=0.3, format="coo", random_state=seed + number)
        message.add_features(Features(matrix, kind, "text", f"featurizer-{number}"))
    matrix = scipy.sparse.random(1, 9, density=0.5, format="coo", random_state=seed)
    message.add_features(Features(matrix, "sentence", "intent", "other"))
    if dense:
        message.add_features(Features(np.ones((1, 4), dtype=np.float32), "sentence", "text", "dense"))
    return message


def matrix_of(result) -> tuple:
    """Everything of a CSR matrix, exactly: shape, dtypes, and its arrays."""
    csr = result
    return (
        csr.format,
        csr.shape,
        csr.dtype,
        csr.indices.dtype,
        csr.indptr.tolist(),
        csr.indices.tolist(),
        csr.data.tolist(),
    )


def rows_of(messages: list):
    """The classifier's rows for these messages, or the error that refused them."""
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    classifier = LogisticRegressionClassifier.__new__(LogisticRegressionClassifier)
    try:
        return matrix_of(classifier._create_X(messages))
    except ValueError as error:
        return ("refused", type(error))


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param(lambda: [featurised(seed) for seed in (1, 5, 9)], id="sparse"),
        pytest.param(lambda: [featurised(seed, dense=True) for seed in (3, 4)], id="sparse-and-dense"),
        pytest.param(
            lambda: [
                Message(data={"text": "x"}, features=[Features(np.ones((1, 5), np.float32), "sentence", "text", "e")])
            ],
            id="dense-only",
        ),
        pytest.param(lambda: [Message(data={"text": "no features"})], id="no-features"),
        pytest.param(lambda: [featurised(1), featurised(2, dense=True)], id="widths-differ"),
    ],
)
def test_classifier_rows_match_rasas_own(messages):
    stock = rows_of(messages())
    patches.module("classifier_rows").apply()
    assert rows_of(messages()) == stock


def test_classifier_rows_are_the_sparse_sentence_features_then_the_dense_ones():
    message = featurised(3, dense=True)
    patches.module("classifier_rows").apply()
    row = rows_of([message])
    assert row[1] == (1, 40 + 25 + 3 + 4)
    parts = [f.features for f in message.features if f.attribute == "text" and f.type == "sentence"]
    expected = np.hstack([parts[1].toarray(), parts[2].toarray(), parts[0], parts[3]])
    np.testing.assert_array_equal(scipy.sparse.csr_matrix((row[6], row[5], row[4]), shape=row[1]).toarray(), expected)


def features_of(message: Message) -> list:
    """What `get_sparse_features` and `get_dense_features` give, every part of it."""

    def described(features):
        if features is None:
            return None
        matrix = features.features
        values = matrix.toarray() if scipy.sparse.issparse(matrix) else matrix
        return (features.type, features.attribute, features.origin, type(matrix), matrix.dtype, values.tolist())

    found = []
    for featurizers in (None, ["featurizer-0", "featurizer-2"], ["dense"]):
        sparse, dense = (
            message.get_sparse_features("text", featurizers),
            message.get_dense_features("text", featurizers),
        )
        found += [described(combined) for combined in (*sparse, *dense)]
    return found


def test_feature_copy_combines_like_rasa_and_changes_no_message():
    message = featurised(3, dense=True)
    given = [(f, f.features, f.features.copy()) for f in message.features]
    stock = features_of(message)
    patches.module("feature_copy").apply()
    assert features_of(message) == stock
    assert sum(part is not None for part in stock) == 5
    for feature, matrix, copied in given:  # the message's own features are untouched
        assert feature.features is matrix
        if scipy.sparse.issparse(matrix):
            assert (matrix != copied).nnz == 0
        else:
            np.testing.assert_array_equal(matrix, copied)


def test_classifier_weights_give_the_same_intents_and_ranking():
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    from rasa_addons.patches import classifier_weights

    messages = [featurised(seed, dense=True) for seed in range(60)]
    classifier = LogisticRegressionClassifier({"max_iter": 300}, "classifier", None, None)
    intents = [f"intent_{seed % 4}" for seed in range(60)]
    classifier.clf.fit(classifier._create_X(messages), intents)
    weights = classifier.clf.coef_ = np.ascontiguousarray(classifier.clf.coef_)  # as a loaded model has them
    assert weights.flags["C_CONTIGUOUS"] and not weights.flags["F_CONTIGUOUS"]

    def ranked():
        fresh = [featurised(seed, dense=True) for seed in range(60, 80)]
        classifier.process(fresh)
        return [(m.get("intent"), m.get("intent_ranking")) for m in fresh]

    stock = ranked()
    classifier_weights.apply()
    assert ranked() == stock
    assert classifier.clf.coef_.flags["F_CONTIGUOUS"]
    np.testing.assert_array_equal(classifier.clf.coef_, weights)
    held = LogisticRegressionClassifier.process  # as the graph of a model loaded now holds it
    classifier_weights.revert()
    assert classifier.clf.coef_ is weights  # Rasa's own weights, the same array
    fresh = [featurised(seed, dense=True) for seed in range(60, 80)]
    held(classifier, fresh)  # reverted, it does what Rasa's own does
    assert [(m.get("intent"), m.get("intent_ranking")) for m in fresh] == stock
    assert classifier.clf.coef_ is weights
    classifier_weights.apply()
    assert ranked() == stock
    assert classifier.clf.coef_.flags["F_CONTIGUOUS"]


# skip_listen_prediction


def test_skip_listen_ends_the_turn_only_after_a_rule_chose_an_action_that_logged_replies_and_slots():
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.shared.core.events import ActionExecuted, BotUttered, FollowupAction, SlotSet, UserUttered

    from rasa_addons.patches.skip_listen_prediction import ends_the_turn, only_replies_since

    def tracker(*events):
        return DialogueStateTracker.from_events("s", [ActionExecuted("action_listen"), UserUttered("hi"), *events])

    respond = ActionExecuted("action_respond")
    assert only_replies_since(tracker(respond), "action_respond")
    assert only_replies_since(tracker(respond, BotUttered("hello"), SlotSet("last_topic", "x")), "action_respond")
    assert not only_replies_since(tracker(respond, FollowupAction("action_other")), "action_respond")
    assert not only_replies_since(tracker(ActionExecuted("action_other")), "action_respond")
    assert not only_replies_since(tracker(), "action_respond")

    rule = PolicyPrediction([0.0, 1.0, 0.0], "RulePolicy", hide_rule_turn=True)
    core_fallback = PolicyPrediction([0.0, 0.3, 0.0], "RulePolicy")
    followup = PolicyPrediction([0.0, 1.0, 0.0], "followup_action")
    answered = tracker(respond, BotUttered("hello"))
    assert ends_the_turn("action_respond", answered, rule)
    assert not ends_the_turn("action_respond", answered, core_fallback)
    assert not ends_the_turn("action_respond", answered, followup)
    assert not ends_the_turn("action_other", tracker(ActionExecuted("action_other")), rule)


def test_every_rule_and_story_ends_the_turn_after_a_turn_ending_action():
    """What skip_listen_prediction relies on: nothing follows these actions but the next message."""
    import yaml

    from rasa_addons.patches.skip_listen_prediction import TURN_ENDING_ACTIONS

    files = sorted((ROOT / "data").rglob("*.yml")) + sorted((ROOT / "tests" / "stories").glob("*.yml"))
    checked = 0
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for flow in document.get("rules", []) + document.get("stories", []):
            assert flow.get("wait_for_user_input", True), f"{path.name}: {flow}"
            steps = flow.get("steps", [])
            for position, step in enumerate(steps):
                if step.get("action") in TURN_ENDING_ACTIONS:
                    checked += 1
                    following = steps[position + 1] if position + 1 < len(steps) else {}
                    assert not following or "intent" in following or "user" in following, (
                        f"{path.name}, {flow.get('rule') or flow.get('story')}: {following} follows "
                        f"{step['action']}; remove it from skip_listen_prediction.TURN_ENDING_ACTIONS"
                    )
    assert checked > 40


# --- the real model: a conversation and the held-out set, with and without -----------------------


@pytest.fixture(scope="module")
def agent(stack, model_path):
    """The model loaded as the launcher loads it: with every patch applied (Rasa's graph takes each
    component's function when it loads the model: only then can classifier_weights reach it), then
    reverted: stock Rasa for every test until one applies a patch."""
    from rasa.core.agent import Agent

    patches.apply_all()
    try:
        return Agent.load(str(model_path), action_endpoint=EndpointConfig(f"{stack.config.actions_url}/webhook"))
    finally:
        patches.revert_all()


def event_log(tracker: DialogueStateTracker) -> list:
    log = []
    for event in tracker.events:
        data = event.as_dict()
        data.pop("timestamp", None)  # and the random message id
        data.pop("message_id", None)
        data.get("parse_data", {}).pop("message_id", None)
        log.append(data)
    return log


async def converse(agent, sender: str, texts: tuple = tuple(CONVERSATION)) -> list:
    replies = []
    for text in texts:
        collector = CollectingOutputChannel()
        await agent.handle_message(UserMessage(text, collector, sender))
        replies.append([{**message, "recipient_id": "patient"} for message in collector.messages])
    kept = getattr(agent.action_endpoint, "_needlewise_session", None)  # action_session's, of this loop
    if kept is not None and kept[0] is asyncio.get_running_loop():
        await kept[1].close()
    return [replies, event_log(await agent.tracker_store.retrieve(sender))]


def test_the_graph_runner_refuses_an_input_named_like_a_node(agent):
    runner = agent.processor.graph_runner
    node = next(iter(runner._graph_schema.nodes))
    target = agent.processor.model_metadata.nlu_target
    with pytest.raises(GraphRunError) as stock:
        runner.run(inputs={"__message__": node}, targets=[target])
    patches.module("graph_runner").apply()
    with pytest.raises(GraphRunError) as patched:
        runner.run(inputs={"__message__": node}, targets=[target])
    assert str(patched.value) == str(stock.value)


@pytest.mark.parametrize("name", [*PATCHES, "all"])
def test_a_conversation_is_the_same_with_and_without(agent, name):
    """Same replies, and the same events, with every confidence and policy name, in the tracker."""
    stock = asyncio.run(converse(agent, f"stock-{name}"))
    if name == "all":
        patches.apply_all()
    else:
        patches.module(name).apply()
    patched = asyncio.run(converse(agent, f"patched-{name}"))
    assert len(stock[0]) == len(CONVERSATION) and all(stock[0])
    assert patched == stock


@pytest.fixture(scope="module")
def heldout_texts() -> list:
    from tools.evaluate import load_examples

    return [text for text, _ in load_examples(ROOT / "tests" / "nlu" / "heldout.yml")]


@pytest.mark.parametrize("name", [*NLU_PATCHES, "all"])
def test_the_held_out_set_parses_the_same_with_and_without(agent, heldout_texts, name):
    texts = heldout_texts

    async def parse_all() -> list:
        parsed = []
        for text in texts:
            result = await agent.parse_message(text)
            result.pop("message_id", None)
            parsed.append(result)
        return parsed

    stock = asyncio.run(parse_all())
    if name == "all":
        patches.apply_all()
    else:
        patches.module(name).apply()
    patched = asyncio.run(parse_all())
    assert len(stock) > 200
    assert patched == stock


@pytest.fixture(scope="module")
def featurised_heldout(agent, heldout_texts) -> tuple:
    """The real model's intent classifier, and each held-out text as it reaches it: featurised by the
    model's own pipeline (today: word and character n-gram counts, then the sentence vector)."""
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    runner = agent.processor.graph_runner
    nodes = runner._graph_schema.nodes
    (classifier,) = [name for name, node in nodes.items() if node.uses is LogisticRegressionClassifier]
    featurizer = nodes[classifier].needs["messages"]
    messages = []
    for text in heldout_texts:
        inputs = {"__message__": [UserMessage(text)], "__tracker__": DialogueStateTracker("rows", agent.domain.slots)}
        messages += runner.run(inputs=inputs, targets=[featurizer])[featurizer]
    return runner._instantiated_nodes[classifier]._component, messages


def test_classifier_rows_match_rasas_own_with_todays_features(featurised_heldout):
    classifier, messages = featurised_heldout
    kinds = {
        (feature.type, scipy.sparse.issparse(feature.features), feature.origin.split("_", 1)[1].rstrip("0123456789"))
        for feature in messages[0].features
    }
    assert kinds == {
        ("sequence", True, "CountVectorsFeaturizer"),
        ("sentence", True, "CountVectorsFeaturizer"),
        ("sentence", False, "rasa_addons.components.SentenceEncoderFeaturizer"),
    }

    def rows() -> list:
        return [matrix_of(classifier._create_X([message])) for message in messages] + [
            matrix_of(classifier._create_X(messages[:100]))
        ]

    stock, stock_probabilities = rows(), classifier.clf.predict_proba(classifier._create_X(messages))
    patches.module("classifier_rows").apply()
    assert rows() == stock
    np.testing.assert_array_equal(classifier.clf.predict_proba(classifier._create_X(messages)), stock_probabilities)


def test_the_real_classifiers_weights_are_reordered_and_put_back(agent, featurised_heldout):
    classifier, _ = featurised_heldout
    weights = classifier.clf.coef_
    assert weights.flags["C_CONTIGUOUS"] and not weights.flags["F_CONTIGUOUS"]
    patches.module("classifier_weights").apply()
    asyncio.run(agent.parse_message("does it hurt"))
    assert classifier.clf.coef_.flags["F_CONTIGUOUS"]
    np.testing.assert_array_equal(classifier.clf.coef_, weights)
    patches.module("classifier_weights").revert()
    assert classifier.clf.coef_ is weights


def test_every_intent_ends_its_turn_the_same_with_and_without_skip_listen(agent, monkeypatch):
    """Every intent of the domain (as a button payload): the same replies and events, and no policy
    run after `action_respond` with the patch."""
    from rasa.core.processor import MessageProcessor

    from rasa_addons.patches.skip_listen_prediction import only_replies_since

    runs: list = []  # for each policy run: whether it came right after action_respond (replies and slots since)
    predict = MessageProcessor._predict_next_with_tracker

    def counted(self, tracker):
        runs.append(only_replies_since(tracker, "action_respond"))
        return predict(self, tracker)

    monkeypatch.setattr(MessageProcessor, "_predict_next_with_tracker", counted)
    payloads = [f"/{intent}" for intent in agent.domain.intents]
    conversations = [tuple(payloads[first : first + 6]) for first in range(0, len(payloads), 6)]

    def play(label: str) -> list:
        return [asyncio.run(converse(agent, f"{label}-{n}", texts)) for n, texts in enumerate(conversations)]

    stock = play("stock-intents")
    stock_runs, runs[:] = list(runs), []
    patches.module("skip_listen_prediction").apply()
    patched = play("patched-intents")
    assert len(payloads) > 40
    assert patched == stock
    assert sum(stock_runs) > 40 and not any(runs)  # a policy run after every answer, then none
    assert len(runs) == len(stock_runs) - sum(stock_runs)


# --- the launcher ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--port", "5005"], list(PATCHES)),
        (["test", "core", "--model", "m.tar.gz"], list(PATCHES)),
        (["shell"], list(PATCHES)),
        (["--stock", "run"], []),
    ],
)
def test_the_launcher_applies_every_patch_before_rasa_starts(argv, expected, monkeypatch):
    import rasa.__main__

    from rasa_addons import serve

    seen = {}

    def rasa_main() -> None:
        seen["applied"], seen["argv"] = patches.applied(), sys.argv[1:]

    monkeypatch.setattr(rasa.__main__, "main", rasa_main)
    monkeypatch.setenv("RASA_API_TOKEN", "s3cret")
    monkeypatch.setattr(sys, "argv", ["serve", *argv])
    serve.main()
    assert seen["applied"] == expected
    rasa_argv = [part for part in argv if part != "--stock"]
    token = ["--enable-api", "--auth-token", "s3cret"] if rasa_argv[0] in ("run", "shell") else []
    assert seen["argv"] == [*rasa_argv, *token]  # `rasa test` takes no API switch


def test_a_stack_can_run_stock_rasa_for_comparison():
    from servers.stack import StackConfig

    assert "--stock" not in StackConfig.free().commands()["rasa"]
    stock = StackConfig.free(patched=False).commands()["rasa"]
    assert stock[stock.index("rasa_addons.serve") + 1] == "--stock"
