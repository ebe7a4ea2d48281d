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
    assert facts["seed"] == 0 and facts["report"]["gradient boosting"]["fit_seconds"] > 0
    assert facts["operating_point"]["dev"].endswith("(split dev)")
    assert len(model.model.predict_proba([[0.0] * len(FEATURES)])[0]) == 2


def test_a_model_trained_on_other_features_is_refused():
    from assistant.answerability import LearnedDecision

    with pytest.raises(ValueError, match="other features"):
        LearnedDecision({"model": None, "features": ["dense_max"], "threshold": 0.5})


def test_decide_answers_at_or_above_the_threshold_and_ask_acts_on_it(assistant):
    """One learned decision and nothing in front of it: ask answers exactly when the model's confidence
    reaches the threshold chosen with it, and says so in plain words otherwise."""
    from assistant.answerability import FEATURES
    from assistant.question import Question

    for text in ["Which country has Mali shifted its security partnerships towards?", "What is Mali's population?"]:
        decision = assistant.decide(Question.analyse(text))
        assert list(decision.features) == list(FEATURES)
        assert decision.refused == (decision.confidence < assistant.refusal.threshold)
        answer = assistant.ask(text)
        assert answer.refused == decision.refused and answer.confidence == decision.confidence
        if answer.refused:
            assert answer.mode == decision.outcome or (answer.mode, decision.outcome) == ("refused", "nothing")
            assert "nothing on" not in answer.answer and "(" not in answer.answer


def test_the_refusal_threshold_setting_overrides_the_trained_one(assistant, monkeypatch):
    question = "Which country has Mali shifted its security partnerships towards?"
    monkeypatch.setattr(assistant.settings.grounding, "refusal_threshold", 1.0)
    vetoed = assistant.ask(question)
    assert vetoed.refused and vetoed.mode in ("closest", "refused") and vetoed.short_answer == ""
    assert vetoed.answer.startswith("The documents do not")
    monkeypatch.setattr(assistant.settings.grounding, "refusal_threshold", 0.0)
    assert not assistant.ask(question).refused
