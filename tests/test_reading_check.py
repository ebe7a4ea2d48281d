"""The quality profile's reading check (assistant/reading_check.py): its inputs, the model in the package, and
that an answer it judges wrong is withheld with the closest passages shown. The reader is `MockModel` in the
behaviour test (the check's edge: an answer given either way); the real model's figures are `brief --profile
quality eval`'s."""

from __future__ import annotations

import json
import math
import re
from importlib import resources

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from assistant import Assistant, load_settings
from assistant.answers import Turn
from assistant.model_reader import confirmed
from assistant.question import Question
from assistant.reading_check import FEATURES, MODEL_FILE, PASSAGES_ASKED, answer_inputs, features, load_check
from kernel.local_models import installed_path
from tests.conftest import MockModel
from tests.support import QUESTION

QUALITY_MODEL = "qwen2.5-1.5b"
needs_quality_model = pytest.mark.skipif(
    installed_path(QUALITY_MODEL) is None,
    reason=f"the {QUALITY_MODEL} model is not installed (scripts/setup --model {QUALITY_MODEL})",
)


@pytest.mark.parametrize(
    ("question", "short", "fit"),
    [
        ("how many sectors r there", "markets", 0.0),  # a number asked for, none given
        ("how many sectors r there", "three", 1.0),
        ("who wrote the report", "Anthony Shorrocks", 1.0),
        ("who wrote the report", "the report", 0.0),
        ("why does it matter", "supply chains", 0.5),  # any kind of answer
    ],
)
def test_the_short_answer_is_judged_by_the_kind_of_answer_asked_for(question, short, fit):
    assert features(Question.analyse(question), short, [0.5], {}, 0.5, 0.5)["short_kind_fit"] == fit


def test_the_answers_inputs_sit_beside_the_decisions():
    decided = {"dense_max": 0.61, "follow_up": 1.0}
    values = features(Question.analyse("who announced the deal"), "the deal", [0.42, 0.7], decided, 0.25, 0.8)
    assert values["dense_max"] == 0.61 and values["follow_up"] == 1.0
    assert values["short_in_question"] == 1.0  # it only repeats the question
    assert (values["cited_best_score"], values["cited"], values["model_confirms"]) == (0.7, 2.0, 0.25)
    assert values["passage_confirms"] == 0.8
    nothing = features(Question.analyse("who announced the deal"), "", [], {}, 0.0, 0.0)
    assert (nothing["short_in_question"], nothing["cited_best_score"], nothing["cited"]) == (0.0, 0.0, 0.0)


def test_the_check_ships_as_package_data_trained_on_training_articles_only():
    from workbench.training import held_out

    assert (resources.files("assistant") / "data" / MODEL_FILE).is_file()
    check = load_check()
    assert check.features == FEATURES and 0 < check.threshold < 1
    facts = check.provenance
    assert facts["articles"] and not any(held_out(a) for a in facts["articles"])
    assert facts["chosen"]["threshold"] == check.threshold
    assert facts["chosen"]["handled_right"] == max(c["handled_right"] for c in facts["curve"])
    assert len(check.model.predict_proba([[0.0] * len(FEATURES)])[0]) == 2


@pytest.mark.parametrize(("threshold", "withheld"), [(1.0, True), (0.0, False)])
def test_an_answer_the_check_judges_wrong_is_withheld_and_the_closest_passages_shown(
    brief_workspace, threshold, withheld
):
    options = {"model_reads": True, "coverage_k": 3, "reading_check_threshold": threshold}
    model = MockModel(responses=[json.dumps({"answer": "NOT STATED", "sentences": []})])
    reader = Assistant(load_settings(data_dir=str(brief_workspace / ".brief"), **options), chat_model=model)
    reader.ask("what battery metal is mentioned")  # to learn the numbering: the reading is the first prompt
    passages = re.findall(r"^\[\d+\] (.*)$", model.prompts[0][0].content, re.MULTILINE)
    n = next(i for i, p in enumerate(passages, start=1) if "lithium and uranium" in p)
    model.responses.append(json.dumps({"answer": "lithium and uranium", "sentences": [n]}))
    answer = reader.ask("what battery metal is mentioned")
    assert answer.refused is withheld
    if withheld:
        assert answer.mode == "closest" and answer.citations and "do not say this directly" in answer.answer
        assert all(" ".join(c.quote.split()) in answer.answer for c in answer.citations)
    else:
        assert [" ".join(c.quote.split()) for c in answer.citations] == [passages[n - 1]]


class JudgesBySource:
    """A check that judges an answer only by where it comes from (the model's reading or retrieval's top
    passage): for the edge of which of the two is kept, whatever the model confirms."""

    threshold = 0.5

    def __init__(self, answer: float, top_passage: float):
        self.chances = (answer, top_passage)

    def probability(self, inputs: dict[str, float]) -> float:
        return self.chances[int(inputs["top_passage"])]


@pytest.mark.parametrize(
    ("reading", "answer", "top_passage", "kept"),
    [
        ("first", 0.6, 0.9, "top"),
        ("first", 0.6, 0.3, "first"),
        ("first", 0.3, 0.4, None),
        ("not stated", 0.0, 0.9, "top"),
        ("not stated", 0.0, 0.3, None),
    ],
)
def test_the_check_keeps_the_likelier_of_the_models_answer_and_retrievals_top_passage(
    brief_workspace, monkeypatch, reading, answer, top_passage, kept
):
    monkeypatch.setattr("assistant.assistant.load_check", lambda: JudgesBySource(answer, top_passage))
    question = "what battery metal is mentioned"
    model = MockModel(responses=[json.dumps({"answer": "NOT STATED", "sentences": []})])
    reader = Assistant(load_settings(data_dir=str(brief_workspace / ".brief"), model_reads=True), chat_model=model)
    reader.ask(question)  # to learn the numbering: the reading is the first prompt
    passages = re.findall(r"^\[\d+\] (.*)$", model.prompts[0][0].content, re.MULTILINE)
    top = reader.decide(reader.analyse(question)).ranked[0].quote
    assert passages[0] != " ".join(top.split())  # the model's answer below cites another passage than the top
    cites = {"answer": "Mali", "sentences": [1]} if reading == "first" else {"answer": "NOT STATED", "sentences": []}
    model.responses = [json.dumps(cites)]
    given = reader.ask(question)
    quoted = [" ".join(c.quote.split()) for c in given.citations]
    if kept is None:
        assert given.refused and given.mode == "closest"
    elif kept == "top":
        assert not given.refused and quoted == [" ".join(top.split())] and top.split()[0] in given.answer
    else:
        assert not given.refused and quoted == [passages[0]]


@pytest.mark.parametrize("reading", ["not stated", "cites the top"])
def test_of_retrievals_first_passages_the_one_the_model_confirms_is_weighed(brief_workspace, monkeypatch, reading):
    """Retrieval's first `PASSAGES_ASKED` passages are each asked about once ("does the passage answer this
    question?"), those the model's answer cites as part of its confirmation; of the others, the one the model
    says yes to is the other answer weighed."""
    monkeypatch.setattr("assistant.assistant.load_check", lambda: JudgesBySource(0.0, 0.9))
    question = "what battery metal is mentioned"
    model = MockModel(responses=[json.dumps({"answer": "NOT STATED", "sentences": []})])
    reader = Assistant(load_settings(data_dir=str(brief_workspace / ".brief"), model_reads=True), chat_model=model)
    reader.ask(question)  # to learn the numbering: the reading is the first prompt
    passages = re.findall(r"^\[\d+\] (.*)$", model.prompts[0][0].content, re.MULTILINE)
    ranked = [" ".join(e.quote.split()) for e in reader.decide(reader.analyse(question)).ranked[:PASSAGES_ASKED]]
    assert "lithium and uranium" in ranked[0] and len(ranked) == 3
    if reading == "not stated":
        model.responses = [json.dumps({"answer": "NOT STATED", "sentences": []}), "no", "yes", "no"]
    else:  # the answer's two confirmations, then the other two passages
        cites = {"answer": "lithium and uranium", "sentences": [passages.index(ranked[0]) + 1]}
        model.responses = [json.dumps(cites), "no", "no", "yes", "no"]
    model.prompts.clear()
    given = reader.ask(question)
    asked = [p[1].content for p in model.prompts[1:] if "Proposed answer" not in p[1].content]
    assert sorted(asked) == sorted(next(a for a in asked if r in " ".join(a.split())) for r in ranked)
    assert not given.refused and [" ".join(c.quote.split()) for c in given.citations] == [ranked[1]]


def load_trainer():
    import importlib.util

    from tests.support import ROOT

    spec = importlib.util.spec_from_file_location("train_reading_check", ROOT / "scripts/train/train_reading_check.py")
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)
    return trainer


def test_the_trainers_objective_counts_the_answer_the_check_keeps():
    """Per question, the choice with the higher chance is kept, or none below the threshold; without a check,
    the model's answer as given; an unchecked answer (an overview) is kept."""
    handled_right = load_trainer().handled_right
    answer, top = {"right": False, "features": {}, "top": False}, {"right": True, "features": {}, "top": True}
    row = {"answerable": True, "choices": [answer, top]}
    unanswerable = {"answerable": False, "choices": [dict(answer), dict(top, right=False)]}
    chance = {id(answer): 0.4, id(top): 0.7} | {id(c): 0.4 for c in unanswerable["choices"]}
    assert handled_right([row, unanswerable], None) == 0  # both answers shown, both wrong
    assert handled_right([row, unanswerable], chance, 0.5) == 2  # the top passage kept, the other withheld
    assert handled_right([row, unanswerable], chance, 0.8) == 1  # both withheld
    overview = {"answerable": True, "choices": [{"right": True, "features": None, "top": False}]}
    assert handled_right([overview], {}, 0.9) == 1


def test_training_without_runs_or_on_a_held_out_article_is_a_clear_error(tmp_path, capsys):
    """scripts/train/train_reading_check.py: no reports under --runs, or a held-out article's, exit 2 with one
    line saying so, and the check in the package is left as it was."""
    trainer = load_trainer()
    shipped = trainer.OUTPUT.read_bytes()
    assert trainer.main(["--runs", str(tmp_path)]) == 2
    assert "no quality reports" in capsys.readouterr().err
    report = tmp_path / "fresno_california" / "quality" / "report.json"
    report.parent.mkdir(parents=True)
    report.write_text("{}", encoding="utf-8")
    assert trainer.main(["--runs", str(tmp_path)]) == 2
    assert "held-out article" in capsys.readouterr().err
    assert trainer.OUTPUT.read_bytes() == shipped


@pytest.mark.quality
@needs_quality_model
def test_the_real_model_and_check_keep_a_right_answer_about_the_brief(brief_workspace):
    """The real parts (embedder, Chroma, the 1.5B model, the shipped check at its threshold): the brief's own
    question is answered, citing the sentence that names the minerals, not withheld."""
    answer = Assistant(load_settings(profile="quality", data_dir=str(brief_workspace / ".brief"))).ask(QUESTION)
    assert not answer.refused and answer.mode != "closest"
    assert any("lithium" in c.quote for c in answer.citations)


class ReportingModel(MockModel):
    """`MockModel` whose replies carry OpenAI-shaped log-probabilities of the first token's candidates."""

    candidates: list[tuple[str, float]] = []

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        top = [{"token": token, "logprob": math.log(p)} for token, p in self.candidates]
        metadata = {"logprobs": {"content": [{"token": top[0]["token"], "top_logprobs": top}]}} if top else {}
        message = AIMessage(content=self._next(messages), response_metadata=metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])


def test_the_confirmation_is_the_chance_of_yes_against_no_in_a_prompt_of_what_is_cited():
    model = ReportingModel(responses=["Yes"], candidates=[(" Yes", 0.6), ("No", 0.2), ("Maybe", 0.1)])
    turns = [Turn(role="user", content="what minerals does mali have"), Turn(role="assistant", content="Gold.")]
    asked = Question.analyse("what are they used for", turns)
    assert confirmed(model, asked, "defense", ["Minerals are used in defense.", "And in technology."]) == pytest.approx(
        0.75
    )
    system, ask = model.prompts[-1]
    assert "yes or no" in system.content
    assert "Minerals are used in defense. And in technology." in ask.content and "defense" in ask.content
    assert "Earlier question: what minerals does mali have" in ask.content


@pytest.mark.parametrize(("top_passage", "asked"), [(False, 2), (True, 1)])
def test_the_model_is_asked_about_the_passages_as_well_as_about_the_answer(top_passage, asked):
    """A short answer is confirmed twice: the passages asked about apart from it ("does the passage answer this
    question?", `passage_confirms`), then with it (`model_confirms`). Retrieval's top passage has no short
    answer: one question, both inputs its reply."""
    model = MockModel(responses=["no", "yes"])
    question, quotes = Question.analyse("who announced it"), ["The Bureau announced it."]
    values = answer_inputs(model, question, "the Bureau", quotes, [0.5], {}, top_passage=top_passage)
    assert len(model.prompts) == asked
    assert "Proposed answer" not in model.prompts[0][1].content
    if top_passage:
        assert values["passage_confirms"] == values["model_confirms"] == 0.0
    else:
        assert "Proposed answer: the Bureau" in model.prompts[1][1].content
        assert (values["passage_confirms"], values["model_confirms"]) == (0.0, 1.0)


@pytest.mark.parametrize(("reply", "chance"), [("Yes.", 1.0), ("no", 0.0), ("", 0.0)])
def test_without_probabilities_the_reply_text_confirms_or_not(reply, chance):
    """A backend that reports no log-probabilities: the reply's first word decides, an empty reply does not."""
    model = MockModel(responses=[reply])
    assert confirmed(model, Question.analyse("who announced it"), "", ["The Bureau announced it."]) == chance
    assert "Proposed answer" not in model.prompts[-1][1].content  # nothing proposed: does it answer at all?


@pytest.mark.quality
@needs_quality_model
def test_the_real_model_confirms_a_right_answer_more_than_an_answer_to_an_unasked_question():
    """The 1.5B model in llama.cpp reports its probabilities: the sentence that names the minerals confirms
    them as the answer to "what minerals" more than the brief's first sentence confirms "United States" as
    the capital of Mali (0.41 against 0.12 when written)."""
    from assistant.llm import make_chat_model
    from tests.support import BRIEF

    sentences = BRIEF.read_text(encoding="utf-8").split(". ")
    minerals = next(s for s in sentences if "lithium and uranium" in s)
    first = next(s for s in sentences if "military-led government" in s)
    model = make_chat_model(load_settings(profile="quality").model)
    right = confirmed(model, Question.analyse("what minerals does mali have"), "lithium and uranium", [minerals])
    wrong = confirmed(model, Question.analyse("what is the capital of mali"), "United States", [first])
    assert 0 < wrong < right < 1
    assert right - wrong > 0.1


@pytest.mark.quality
@needs_quality_model
def test_the_real_model_says_the_passage_that_answers_answers_more_than_one_that_does_not():
    """Asked with no answer proposed, the 1.5B model gives the sentence that names the minerals a higher chance
    of answering "what minerals does mali have" than the brief's first sentence."""
    from assistant.llm import make_chat_model
    from tests.support import BRIEF

    sentences = BRIEF.read_text(encoding="utf-8").split(". ")
    minerals = next(s for s in sentences if "lithium and uranium" in s)
    first = next(s for s in sentences if "military-led government" in s)
    model = make_chat_model(load_settings(profile="quality").model)
    question = Question.analyse("what minerals does mali have")
    right, wrong = confirmed(model, question, "", [minerals]), confirmed(model, question, "", [first])
    assert 0 < wrong < right < 1
    assert right - wrong > 0.1


@pytest.mark.quality
@needs_quality_model
def test_the_real_model_picks_the_passage_that_answers_below_retrievals_first(brief_workspace):
    """ "who does mali side with on security": retrieval ranks the sentence on Mali's sovereignty first and the
    one on its security partnerships with Russia second; the 1.5B model says the second answers it (0.83
    when written), so that is the passage the check weighs."""
    reader = Assistant(load_settings(data_dir=str(brief_workspace / ".brief"), profile="quality"))
    asked = reader.analyse("who does mali side with on security")
    decision = reader.decide(asked)
    first_two = [e.chunk.text for e in decision.ranked[:2]]
    assert "Russia" not in first_two[0] and "security partnerships towards Russia" in first_two[1]
    passage, chance = reader.confirmed_passage_answer(asked, decision, set())
    assert "security partnerships towards Russia" in passage.citations[0].quote and 0.5 < chance < 1
