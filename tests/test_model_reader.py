"""The quality profile's reader (assistant/model_reader.py): what it makes of a reply, and which passages it is
shown. The model is `MockModel` here, since these are the reader's edge cases; the real model reads the brief in
the `quality`-marked tests and in `brief --profile quality eval`."""

from __future__ import annotations

import json
import re

import pytest

from assistant import Assistant, load_settings
from assistant.model_reader import Reading, cited_by_support, parse
from kernel.local_models import installed_path
from tests.conftest import MockModel
from tests.support import BRIEF, QUESTION

QUALITY_MODEL = "qwen2.5-1.5b"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"answer": "Lithium.", "sentences": [2, 2, 9]}', Reading(True, (1,), "Lithium")),
        ('{"answer": "NOT STATED", "sentences": []}', Reading(False)),
        ('{"answer": "Russia", "sentences": [7]}', Reading(False)),  # cites no passage it was shown
        ('{"answer": "", "sentences": [1]}', Reading(False)),
        ('{"answer": "Russia", "sentences": ["one"]}', Reading(False)),
        ("Russia [1]", Reading(False)),  # not JSON
    ],
)
def test_a_reply_is_read_as_cited_passages_and_a_short_answer_or_as_not_stated(reply, expected):
    assert parse(reply, n=3) == expected


PASSAGES = [
    "The U.S. aims to respect Mali's sovereignty.",
    "Mali holds reserves of lithium.",
    "The U.S. will monitor the influence of Russia and China.",
    "Mali's mineral wealth, particularly in lithium and uranium, is large.",
    "Future talks may follow.",
]


@pytest.mark.parametrize(
    ("answer", "cited", "expected"),
    [
        ("Russia and China", (4,), (2,)),  # cites the passage after the one that says it: the one that does
        ("Russia and China", (0, 1), (2,)),
        ("lithium", (2,), (1, 3)),  # two passages say it, equally near the number given: both
        ("lithium", (3, 4), (3, 4)),  # a cited passage says it: what the model cited stands
        ("uranium", (0,), (3,)),  # however far the one that says it is
        ("Mali's sovereignty and lithium", (1,), (1,)),  # no passage says all of it
        ("the Sahel", (4,), (4,)),
    ],
)
def test_the_passages_cited_are_those_that_say_the_short_answer(answer, cited, expected):
    assert cited_by_support(Reading(True, cited, answer), PASSAGES) == expected


def reader_over_brief(brief_workspace, reply: str, **settings) -> tuple[Assistant, MockModel]:
    model = MockModel(responses=[reply])
    options = {"model_reads": True, "coverage_k": 3, "reading_check_threshold": 0.0} | settings  # keeps answers
    return Assistant(load_settings(data_dir=str(brief_workspace / ".brief"), **options), chat_model=model), model


def shown_passages(model: MockModel) -> list[str]:
    system = model.prompts[-1][0].content
    return re.findall(r"^\[\d+\] (.*)$", system, re.MULTILINE)


def test_a_small_collection_is_read_whole_in_document_order_and_the_same_for_every_question(brief_workspace):
    """The brief (15 sentences) is shown whole although retrieval keeps 3: every question's prompt starts alike,
    which is what lets llama.cpp's prompt cache read the brief once."""
    not_stated = json.dumps({"answer": "NOT STATED", "sentences": []})
    reader, model = reader_over_brief(brief_workspace, not_stated)
    brief = " ".join(BRIEF.read_text().split())
    assert reader.ask("what battery metal is mentioned").refused
    first = shown_passages(model)
    model.responses.append(not_stated)
    reader.ask("who announced it")
    assert shown_passages(model) == first and len(first) == 15
    assert [brief.index(p) for p in first] == sorted(brief.index(p) for p in first)


def test_a_collection_over_the_limit_is_read_as_the_retrieved_passages(brief_workspace):
    not_stated = json.dumps({"answer": "NOT STATED", "sentences": []})
    reader, model = reader_over_brief(brief_workspace, not_stated, read_whole_chars=1000)
    reader.ask("what battery metal is mentioned")
    assert len(shown_passages(model)) == 3


def test_a_cited_passage_that_retrieval_did_not_keep_is_quoted_from_the_document(brief_workspace):
    """Shown the whole brief, the model may cite a sentence outside the retrieved three: its quote and offsets
    are the document's own."""
    text = BRIEF.read_text()
    reader, model = reader_over_brief(brief_workspace, "")
    reader.ask("what battery metal is mentioned")  # to learn the numbering
    passages = shown_passages(model)
    last = len(passages)  # the brief's last sentence, far from the question's words
    model.responses.append(json.dumps({"answer": passages[-1].split(",")[0], "sentences": [last]}))
    answer = reader.ask("what battery metal is mentioned")
    assert not answer.refused and len(answer.citations) == 1
    cited = answer.citations[0]
    assert text[cited.start : cited.end] == cited.quote and " ".join(cited.quote.split()) == passages[-1]


@pytest.mark.parametrize(("short_answers", "mode"), [(False, "extractive"), (True, "short")])
def test_the_readers_short_answer_is_the_answer_only_with_short_answers_on(brief_workspace, short_answers, mode):
    """Off (the default), the passage the model cites is quoted whole: its short answer, though supported, is
    often the wrong part of the right sentence on questions typed as users type (docs/measurements.md)."""
    reader, model = reader_over_brief(brief_workspace, "", short_answers=short_answers)
    reader.ask("what battery metal is mentioned")  # to learn the numbering
    passages = shown_passages(model)
    n = next(i for i, p in enumerate(passages, start=1) if "lithium and uranium" in p)
    model.responses.append(json.dumps({"answer": "lithium and uranium", "sentences": [n]}))
    answer = reader.ask("what battery metal is mentioned")
    assert answer.mode == mode and "lithium and uranium" in answer.answer.lower()
    assert (answer.answer == "Lithium and uranium [1].") is short_answers
    assert [" ".join(c.quote.split()) for c in answer.citations] == [passages[n - 1]]
    assert answer.short_answer == "lithium and uranium"  # either way, `ask --json` reports it


@pytest.mark.parametrize(
    "given",
    ["cobalt", "what battery metal"],  # the passage does not say it; it only repeats the question
)
def test_a_short_answer_the_cited_passage_does_not_bear_out_is_not_reported(brief_workspace, given):
    """The model's short answer is reported only when the passage quoted first supports it; otherwise
    `short_answer` is the learned reader's span of that passage, as for any quoted answer."""
    from assistant.question import Question
    from assistant.reader import short_answer

    reader, model = reader_over_brief(brief_workspace, "")
    question = "what battery metal is mentioned"
    reader.ask(question)  # to learn the numbering
    passages = shown_passages(model)
    n = next(i for i, p in enumerate(passages, start=1) if "lithium and uranium" in p)
    model.responses.append(json.dumps({"answer": given, "sentences": [n]}))
    answer = reader.ask(question)
    assert not answer.refused and answer.mode == "extractive"
    assert answer.short_answer == short_answer(Question.analyse(question), passages[n - 1]) != given


def test_the_reading_check_weighs_the_models_own_short_answer(brief_workspace):
    """The model is asked to confirm the short answer it gave ("lithium and uranium"), not the learned reader's
    span of the passage it cites ("gold" for this question, the wrong part of the right sentence)."""
    reader, model = reader_over_brief(brief_workspace, "")
    question = "what battery metal is mentioned"
    reader.ask(question)  # to learn the numbering
    passages = shown_passages(model)
    n = next(i for i, p in enumerate(passages, start=1) if "lithium and uranium" in p)
    checked = Assistant(reader.settings.replace(reading_check_threshold=None), chat_model=model)
    model.responses += [json.dumps({"answer": "lithium and uranium", "sentences": [n]}), "yes", "yes", "yes"]
    checked.ask(question)
    confirmations = [m[-1].content for m in model.prompts if "Proposed answer:" in m[-1].content]
    assert [c.split("Proposed answer: ")[1].splitlines()[0] for c in confirmations] == ["lithium and uranium"]


def test_an_answer_cited_by_the_wrong_number_is_cited_where_the_brief_says_it(brief_workspace):
    """The model gives the right answer and the number of the sentence after the one that says it: the answer
    cites the sentence that says it, at its offsets."""
    reader, model = reader_over_brief(brief_workspace, "")
    reader.ask("what battery metal is mentioned")  # to learn the numbering
    passages = shown_passages(model)
    n = next(i for i, p in enumerate(passages, start=1) if "lithium and uranium" in p)
    assert "lithium" not in passages[n].lower()  # the one after says nothing of it
    model.responses.append(json.dumps({"answer": "lithium and uranium", "sentences": [n + 1]}))
    answer = reader.ask("what battery metal is mentioned")
    assert [" ".join(c.quote.split()) for c in answer.citations] == [passages[n - 1]]
    text = BRIEF.read_text()
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)


def test_a_follow_up_is_read_with_the_answer_its_user_saw(brief_workspace):
    """'Why do they want it?' is read beside the earlier question and what the assistant answered to it, so
    that 'it' can be what that answer named; without an earlier answer, beside the earlier question only."""
    not_stated = json.dumps({"answer": "NOT STATED", "sentences": []})
    reader, model = reader_over_brief(brief_workspace, not_stated)
    asked = {"role": "user", "content": "what battery metals does mali have"}
    said = {"role": "assistant", "content": "According to the brief: lithium and uranium reserves. [1]"}
    reader.ask("why do they want it", [asked, said])
    prompt = model.prompts[-1][-1].content
    assert '"what battery metals does mali have"' in prompt
    assert '"According to the brief: lithium and uranium reserves."' in prompt and "[1]" not in prompt
    model.responses.append(not_stated)
    reader.ask("why do they want it", [asked])
    prompt = model.prompts[-1][-1].content
    assert '"what battery metals does mali have"' in prompt and "lithium" not in prompt


@pytest.mark.quality
@pytest.mark.skipif(
    installed_path(QUALITY_MODEL) is None,
    reason=f"the {QUALITY_MODEL} model is not installed (scripts/setup --model {QUALITY_MODEL})",
)
def test_the_quality_model_reads_the_whole_brief_and_cites_the_sentence_that_answers(brief_workspace):
    """The real model, shown the whole brief although retrieval keeps 3 sentences, answers from the sentence
    that says it, quoted at its offsets in the file."""
    brief = str(brief_workspace / ".brief")
    settings = load_settings(profile="quality", data_dir=brief, coverage_k=3, reading_check_threshold=0.0)
    answer = Assistant(settings).ask(QUESTION)  # the reader alone: its answers are checked in test_reading_check
    assert not answer.refused and "lithium" in answer.answer.lower()
    text = BRIEF.read_text()
    assert any("lithium" in c.quote for c in answer.citations)
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)


@pytest.mark.quality
@pytest.mark.skipif(
    installed_path(QUALITY_MODEL) is None,
    reason=f"the {QUALITY_MODEL} model is not installed (scripts/setup --model {QUALITY_MODEL})",
)
def test_the_quality_model_answers_a_follow_up_after_the_answer_the_chat_showed(brief_workspace):
    """The conversation as the web chat passes it, the assistant's answer included: the real model reads "them"
    as the minerals the earlier answer named and cites why the U.S. wants them, quoted at its offsets."""
    brief = str(brief_workspace / ".brief")
    settings = load_settings(profile="quality", data_dir=brief, coverage_k=3, reading_check_threshold=0.0)
    reader = Assistant(settings)
    first = reader.ask("what minerals does mali have")
    turns = [
        {"role": "user", "content": "what minerals does mali have"},
        {"role": "assistant", "content": first.answer},
    ]
    answer = reader.ask("why does the us want them", turns)
    assert not answer.refused and any("minerals" in c.quote for c in answer.citations)
    text = BRIEF.read_text()
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)
