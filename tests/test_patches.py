"""rasa_addons/patches/: each patch gives what stock Rasa gives, only sooner; none applies by itself.

For every patch: the same behaviour with and without it; `revert()` puts back Rasa's own
attributes (the very same objects); another Rasa release is refused; applying twice changes
nothing more. Importing any of our modules leaves Rasa as it was. Every test starts and ends with
stock Rasa (the autouse fixture), so no patch leaks into other test files.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import subprocess
import sys
import textwrap

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.engine.exceptions import GraphRunError
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from rasa_addons import patches
from rasa_addons.patches import PATCHES, RASA_VERSION, PatchError
from tests.conftest import ROOT

#: Every attribute a patch replaces: (module, owner in it or "" for the module itself, attribute).
#: Written out, not read from the patches, so the import test below can check them before any of
#: our code is imported.
TARGETS = {
    "action_validation": [("rasa.core.actions.action", "RemoteAction", "_validate_action_result")],
    "graph_runner": [("rasa.engine.runner.dask", "DaskGraphRunner", "run")],
    "gc_freeze": [("rasa.core.run", "", "load_agent_on_start")],
}

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


# --- the real model: a conversation and the held-out set, with and without -----------------------


@pytest.fixture(scope="module")
def agent(stack, model_path):
    from rasa.core.agent import Agent

    return Agent.load(str(model_path), action_endpoint=EndpointConfig(f"{stack.config.actions_url}/webhook"))


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


def test_the_held_out_set_parses_the_same_with_and_without(agent):
    from tools.evaluate import load_examples

    texts = [text for text, _ in load_examples(ROOT / "tests" / "nlu" / "heldout.yml")]

    async def parse_all() -> list:
        parsed = []
        for text in texts:
            result = await agent.parse_message(text)
            result.pop("message_id", None)
            parsed.append(result)
        return parsed

    stock = asyncio.run(parse_all())
    patches.apply_all()
    patched = asyncio.run(parse_all())
    assert len(stock) > 200
    assert patched == stock


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
