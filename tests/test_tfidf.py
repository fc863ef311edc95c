"""TfidfWeights (rasa_addons/components.py): the n-gram counts' sentence rows weighed as TF-IDF,
checked against scikit-learn's own TfidfTransformer on the same counts."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfTransformer

from rasa_addons.components import TfidfWeights

WORDS = np.array([[2, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 3], [0, 0, 1, 1]], dtype=np.int64)
CHARS = np.array([[1, 0, 4], [0, 2, 0], [1, 1, 1], [0, 0, 1]], dtype=np.int64)


def message(words, chars, vector=None) -> Message:
    found = Message(data={TEXT: "a message"})
    found.add_features(Features(scipy.sparse.coo_matrix(words.reshape(1, -1)), FEATURE_TYPE_SEQUENCE, TEXT, "words"))
    found.add_features(Features(scipy.sparse.coo_matrix(words.reshape(1, -1)), FEATURE_TYPE_SENTENCE, TEXT, "words"))
    found.add_features(Features(scipy.sparse.coo_matrix(chars.reshape(1, -1)), FEATURE_TYPE_SENTENCE, TEXT, "chars"))
    if vector is not None:
        found.add_features(Features(np.array([vector], dtype=np.float32), FEATURE_TYPE_SENTENCE, TEXT, "vector"))
    return found


def sentence(found: Message, origin: str) -> np.ndarray:
    [feature] = [f for f in found.features if f.origin == origin and f.type == FEATURE_TYPE_SENTENCE]
    return feature.features.toarray() if scipy.sparse.issparse(feature.features) else feature.features


@pytest.fixture()
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def trained(storage, scale=1.0):
    resource = Resource("tfidf")
    context = ExecutionContext(GraphSchema({}), "test")
    component = TfidfWeights.create({"scale": scale}, storage, resource, context)
    data = TrainingData([message(w, c) for w, c in zip(WORDS, CHARS, strict=True)])
    component.train(data)
    return component, resource, context


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_rows_match_scikit_learns_tfidf(storage, scale):
    component, _, _ = trained(storage, scale)
    asked = [message(np.array([1, 0, 2, 5]), np.array([0, 1, 3])), message(np.array([0, 4, 0, 0]), CHARS[0])]
    component.process(asked)
    for counts, origin in ((WORDS, "words"), (CHARS, "chars")):
        reference = TfidfTransformer(sublinear_tf=True, smooth_idf=True, norm="l2").fit(counts)
        rows = np.vstack([sentence(m, origin) for m in asked])
        raw = np.vstack([[1, 0, 2, 5], [0, 4, 0, 0]]) if origin == "words" else np.vstack([[0, 1, 3], CHARS[0]])
        expected = reference.transform(raw).toarray() * scale
        np.testing.assert_allclose(rows, expected, rtol=1e-12)
        assert np.allclose(np.linalg.norm(rows, axis=1), scale)


def test_a_rare_word_outweighs_a_common_one_and_repeats_count_less_than_their_number(storage):
    component = TfidfWeights.create({}, storage, Resource("rare"), ExecutionContext(GraphSchema({}), "test"))
    common_and_rare = [np.array([1, 1, 0]), np.array([1, 0, 1]), np.array([1, 0, 1]), np.array([1, 0, 1])]
    component.train(TrainingData([message(w, np.array([1])) for w in common_and_rare]))
    [asked] = component.process(
        [
            message(np.array([1, 1, 0]), np.array([1])),
        ]
    )
    row = sentence(asked, "words")[0]
    assert row[1] > row[0] > 0
    [repeated] = component.process([message(np.array([4, 1, 0]), np.array([1]))])
    common, rare = sentence(repeated, "words")[0][:2]
    assert common / rare == pytest.approx((1 + np.log(4)) * row[0] / row[1])


def test_sequence_rows_and_the_sentence_vector_are_left_alone(storage):
    component, _, _ = trained(storage)
    [asked] = component.process([message(np.array([2, 0, 0, 1]), np.array([1, 1, 0]), vector=[0.5, -2.0])])
    [sequence] = [f for f in asked.features if f.type == FEATURE_TYPE_SEQUENCE]
    assert sequence.features.toarray().tolist() == [[2, 0, 0, 1]]
    assert sentence(asked, "vector").tolist() == [[0.5, -2.0]]


def test_an_empty_row_stays_empty(storage):
    component, _, _ = trained(storage)
    [asked] = component.process([message(np.array([0, 0, 0, 0]), np.array([0, 0, 0]))])
    assert not sentence(asked, "words").any() and not sentence(asked, "chars").any()


def test_the_trained_weights_survive_a_save_and_load(storage):
    component, resource, context = trained(storage, scale=2.0)
    loaded = TfidfWeights.load({"scale": 2.0}, storage, resource, context)
    one = message(np.array([3, 1, 0, 1]), np.array([2, 0, 1]))
    two = message(np.array([3, 1, 0, 1]), np.array([2, 0, 1]))
    component.process([one])
    loaded.process([two])
    for origin in ("words", "chars"):
        assert sentence(one, origin).tolist() == sentence(two, origin).tolist()


def test_training_data_is_weighed_like_a_message(storage):
    component, _, _ = trained(storage)
    data = TrainingData([message(WORDS[0], CHARS[0])])
    component.process_training_data(data)
    [alone] = component.process([message(WORDS[0], CHARS[0])])
    assert sentence(data.training_examples[0], "words").tolist() == sentence(alone, "words").tolist()


def test_a_featurizer_the_model_never_saw_is_left_alone(storage):
    component, _, _ = trained(storage)
    asked = Message(data={TEXT: "x"})
    asked.add_features(Features(scipy.sparse.coo_matrix([[3, 0]]), FEATURE_TYPE_SENTENCE, TEXT, "another"))
    component.process([asked])
    assert sentence(asked, "another").tolist() == [[3, 0]]


def test_scale_must_be_positive(storage):
    with pytest.raises(ValueError, match="scale"):
        TfidfWeights.create({"scale": 0}, storage, Resource("x"), ExecutionContext(GraphSchema({}), "t"))
