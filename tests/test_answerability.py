"""The learned refusal decision: the shipped model, its provenance, and what it decides on the real pipeline."""

import hashlib
from importlib import resources

import pytest

from tests.support import ROOT


def test_the_model_ships_as_package_data_with_its_provenance():
    from assistant.answerability import FEATURES, MODEL_FILE, load_model

    shipped = resources.files("assistant") / "data" / MODEL_FILE
    assert shipped.is_file() and len(shipped.read_bytes()) <= 25 * 2**20
    model = load_model()
    assert 0 < model.threshold < 1
    facts = model.provenance
    data = ROOT / "benchmarks" / "squad2-dev-train-articles.json"
    assert facts["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert not set(facts["train_articles"]) & set(facts["held_out_articles"])
    assert not {"Normans", "Rhine"} & set(facts["train_articles"] + facts["held_out_articles"])
    assert facts["seed"] == 0 and facts["fit_seconds_both_models"] > 0
    assert len(model.model.predict_proba([[0.0] * len(FEATURES)])[0]) == 2


def test_a_model_trained_on_other_features_is_refused():
    from assistant.answerability import AnswerabilityModel

    with pytest.raises(ValueError, match="other features"):
        AnswerabilityModel({"model": None, "features": ["dense_max"], "threshold": 0.5})


def test_decide_gives_the_confidence_and_the_model_vetoes_below_the_threshold(assistant):

    question = "Which country has Mali shifted its security partnerships towards?"
    candidates = assistant.retriever.retrieve(
        retrieval_queries(question, []), k=assistant.settings.retrieval.coverage_k
    )
    decision = assistant.refusal.decide(question, [], candidates)
    assert not decision.refused and decision.confidence >= assistant.refusal.answerability.threshold
    from assistant.answerability import FEATURES

    assert list(decision.features) == list(FEATURES)
    answer = assistant.ask(question)
    assert not answer.refused and answer.confidence == decision.confidence
    population = assistant.ask("What is Mali's population?")
    assert population.refused and "population" in population.answer


def test_the_refusal_threshold_setting_overrides_the_trained_one(assistant, monkeypatch):
    question = "Which country has Mali shifted its security partnerships towards?"
    monkeypatch.setattr(assistant.settings.grounding, "refusal_threshold", 1.0)
    vetoed = assistant.ask(question)
    assert vetoed.refused and "do not seem to answer" in vetoed.answer
    monkeypatch.setattr(assistant.settings.grounding, "refusal_threshold", 0.0)
    assert not assistant.ask(question).refused
