"""The learned reader that picks short answers: the shipped model, its provenance, what it returns, and that it
beats the hand-written picker it replaced on questions of articles it was not trained on."""

import hashlib
import json
from importlib import resources

import pytest

from tests.support import ROOT


def test_the_reader_ships_as_package_data_with_its_provenance():
    from assistant.reader import MODEL_FILE, load_reader

    shipped = resources.files("assistant") / "data" / MODEL_FILE
    assert shipped.is_file() and len(shipped.read_bytes()) <= 25 * 2**20
    facts = load_reader().provenance
    data = ROOT / "benchmarks" / "squad2-dev-train-articles.json"
    assert facts["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert facts["seed"] == 0 and facts["positive_rows"] > 1000


def test_a_reader_trained_on_other_candidates_is_refused():
    from assistant.reader import Reader

    with pytest.raises(ValueError, match="other candidates"):
        Reader({"model": None, "max_tokens": 3})


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("In what year did Rollo swear fealty?", "Rollo agreed to swear fealty to King Charles III in 911.", "911"),
        ("How long is the river?", "The river is 1,230 km long.", "1,230"),
        ("When did the city fall?", "The city fell in 1204, after a siege of three months.", "1204"),
    ],
)
def test_a_short_answer_is_a_stretch_of_the_sentence_of_the_kind_asked_for(question, sentence, expected):
    from assistant.question import Question
    from assistant.reader import confident_short_answer, short_answer

    asked = Question.analyse(question)
    answer = short_answer(asked, sentence)
    assert expected in answer and answer in sentence and len(answer) < len(sentence)
    assert confident_short_answer(asked, sentence) == answer


def test_a_sentence_with_nothing_but_the_questions_words_has_no_short_answer():
    from assistant.question import Question
    from assistant.reader import confident_short_answer, short_answer

    assert short_answer(Question.analyse("Who founded the abbey?"), "The abbey.") == "The abbey."
    why = Question.analyse("Why did it happen?")
    assert confident_short_answer(why, "It happened because of the flood.") is None


@pytest.mark.slow  # scores the reader on every held-out training example
def test_the_reader_beats_the_hand_written_picker_on_held_out_articles():
    """Held-out training articles (never the Normans/Rhine test file), given the right sentence: the hand-written
    picker scored F1 40.3 as written and 33.8 reworded (git show 12339b3:assistant/data/reader.json)."""
    from assistant.question import Question
    from assistant.reader import short_answer
    from workbench.squad import score_squad
    from workbench.training import held_out, reader_examples

    scores: dict[str, list[float]] = {}
    for e in reader_examples():
        if held_out(e["article"]):
            scores.setdefault(e["group"], []).append(
                score_squad(short_answer(Question.analyse(e["question"]), e["sentence"]), e["answers"])[1]
            )
    f1 = {group: 100 * sum(v) / len(v) for group, v in scores.items()}
    assert f1["as written"] >= 45 and f1["reworded"] >= 38, f1
    recorded = json.loads((ROOT / "assistant" / "data" / "reader.json").read_text())
    assert abs(recorded["held_out_given_the_right_sentence"]["as written"]["reader"]["f1"] - f1["as written"]) < 0.1
