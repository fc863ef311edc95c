"""The sentence encoder: its ONNX graph computes BERT's forward pass, its weights are checked,
and the built int8 encoder agrees with the float reference on the real weights."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rasa_addons import encoder as enc

CONFIG = {"layer_norm_eps": 1e-12, "num_attention_heads": 2, "num_hidden_layers": 2, "hidden_size": 8}


def tiny_weights(seed: int = 7, vocab: int = 30, hidden: int = 8, inner: int = 16, layers: int = 2) -> dict:
    """Random weights of a two-layer BERT, named as the real model's are."""
    rng = np.random.default_rng(seed)

    def r(*shape):
        return rng.normal(0, 0.3, shape).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(vocab, hidden),
        "embeddings.position_embeddings.weight": r(16, hidden),
        "embeddings.token_type_embeddings.weight": r(2, hidden),
        "embeddings.LayerNorm.weight": 1 + r(hidden),
        "embeddings.LayerNorm.bias": r(hidden),
    }
    for i in range(layers):
        p = f"encoder.layer.{i}."
        for m in ("query", "key", "value"):
            w[p + f"attention.self.{m}.weight"], w[p + f"attention.self.{m}.bias"] = r(hidden, hidden), r(hidden)
        w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"] = r(hidden, hidden), r(hidden)
        w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"] = 1 + r(hidden), r(hidden)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = r(inner, hidden), r(inner)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = r(hidden, inner), r(hidden)
        w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"] = 1 + r(hidden), r(hidden)
    return w


def run_graph(weights: dict, ids) -> np.ndarray:
    import onnxruntime

    model = enc.build_graph(weights, CONFIG)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input_ids": np.asarray(ids, dtype=np.int64)})[0][0]


@pytest.mark.parametrize("ids", [[1], [3, 4, 5], [2, 9, 9, 17, 29, 0, 11, 5, 6, 7, 8, 1]])
def test_the_onnx_graph_computes_the_reference_forward_pass(ids):
    weights = tiny_weights()
    ours = run_graph(weights, ids)
    reference = enc.reference_embedding(weights, CONFIG, ids)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert abs(np.linalg.norm(ours) - 1) < 1e-5


def test_the_graph_depends_on_word_order_and_every_layer():
    weights = tiny_weights()
    assert not np.allclose(run_graph(weights, [3, 4, 5]), run_graph(weights, [5, 4, 3]), atol=1e-4)
    key = "encoder.layer.1.intermediate.dense.weight"
    changed = dict(weights, **{key: weights[key] * 2})
    assert not np.allclose(run_graph(weights, [3, 4, 5]), run_graph(changed, [3, 4, 5]), atol=1e-4)


def test_weights_with_another_checksum_are_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    good = enc.sha256(tmp_path / "model.safetensors")
    enc.verify_files(tmp_path, {"model.safetensors": good})
    (tmp_path / "model.safetensors").write_bytes(b"weightz")
    with pytest.raises(enc.EncoderError, match="refusing it"):
        enc.verify_files(tmp_path, {"model.safetensors": good})
    with pytest.raises(enc.EncoderError, match="missing"):
        enc.verify_files(tmp_path, {"tokenizer.json": good})


def test_the_settings_file_names_every_weight_file_with_a_sha256():
    settings = enc.Settings.load()
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= set(settings.files)
    assert all(len(digest) == 64 for digest in settings.files.values())
    assert 0 < settings.max_tokens <= 512


def test_the_installed_weights_match_the_checksums():
    settings = enc.Settings.load()
    enc.verify_files(enc.package_model_dir(settings.package), settings.files)


@pytest.fixture(scope="module")
def built() -> enc.SentenceEncoder:
    if not (enc.BUILD_DIR / enc.META_FILE).is_file():
        pytest.fail("No built encoder: `make setup` builds it (make test does)")
    return enc.SentenceEncoder(enc.BUILD_DIR)


@pytest.fixture(scope="module")
def reference():
    settings = enc.Settings.load()
    model_dir = enc.package_model_dir(settings.package)
    return enc.load_weights(model_dir), enc.load_config(model_dir)


@pytest.mark.parametrize(
    "text",
    [
        "is it safe?",
        "my PT wants to needle my upper traps next week but im on xarelto, will i bruise loads",
        "I have worked at a desk for years and my neck and shoulders ache every evening. A friend "
        "said the thin needles into the knots helped her, but how long does the relief usually last?",
    ],
)
def test_the_built_encoder_agrees_with_the_float_reference(built, reference, text):
    weights, config = reference
    ids = built.ids(text)
    assert ids[0] == 101 and ids[-1] == 102  # [CLS] ... [SEP], no padding
    assert (
        enc.cosine(built.encode(text), enc.reference_embedding(weights, config, ids)) >= enc.Settings.load().min_cosine
    )


def test_the_built_encoder_cuts_long_messages_and_keeps_meaning_apart(built):
    assert len(built.ids("neck " * 1000)) == built.max_tokens
    same = enc.cosine(built.encode("does dry needling hurt?"), built.encode("is the needling painful"))
    other = enc.cosine(built.encode("does dry needling hurt?"), built.encode("how much does a session cost"))
    assert same > other + 0.1


def test_the_encoder_needs_a_build(tmp_path):
    with pytest.raises(enc.EncoderError, match="make setup"):
        enc.SentenceEncoder(tmp_path)


def test_a_build_records_what_it_checked(built):
    meta = json.loads((enc.BUILD_DIR / enc.META_FILE).read_text())
    assert meta["sha256"] == enc.Settings.load().files
    assert meta["float_cosine_min"] >= 0.9999
    if meta["weights"] == "int8":
        assert meta["int8_cosine_min"] >= enc.Settings.load().min_cosine


def test_the_build_refuses_changed_weights(tmp_path, monkeypatch):
    from tools import build_encoder

    fake = tmp_path / "pkg" / "model"
    real = enc.package_model_dir(enc.Settings.load().package)
    shutil.copytree(real, fake, ignore=shutil.ignore_patterns("model.safetensors"))
    (fake / "model.safetensors").write_bytes(b"not the published weights")
    monkeypatch.setattr(enc, "package_model_dir", lambda package: fake)
    assert build_encoder.main(["--out", str(tmp_path / "out")]) == 1
    assert not (tmp_path / "out").exists()


async def test_a_message_encoded_ahead_is_not_encoded_again(built, monkeypatch):
    monkeypatch.setattr(enc, "ACTIVE", built)
    text = "can i go to the gym straight after my dry needling appointment on thursday?"
    await enc.encode_ahead(f"  {text} ")
    hits = built.encode.cache_info().hits
    built.encode(text)
    assert built.encode.cache_info().hits == hits + 1
    misses = built.encode.cache_info().misses
    await enc.encode_ahead("/what_is_dry_needling")  # a button payload needs no vector
    assert built.encode.cache_info().misses == misses
