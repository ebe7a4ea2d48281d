"""Pure parts of the evaluation workbench: SQuAD rules, spans, metrics, reports, diff, gate, tuning split."""

import pytest

from assistant.spans import answer_type, missing_kind
from kernel.settings import GroundingSettings
from workbench.evaluation import QuestionItem, breakdown, compare, score_item, summarise
from workbench.reports import diff_reports, render_html, render_markdown
from workbench.squad import exact_match, normalize_answer, sample, score_squad, token_f1
from workbench.workbench import WorkbenchError, gate, split, write_toml_values

SUPPORT = GroundingSettings().support_threshold


def test_official_squad_normalisation_and_scores():
    assert normalize_answer("The  Normans!") == "normans"
    assert exact_match("the 10th century", "10th century") == 1.0
    assert round(token_f1("in the 10th and 11th centuries", "10th and 11th centuries"), 3) == 0.889
    assert score_squad("", []) == (1.0, 1.0) and score_squad("France", []) == (0.0, 0.0)
    assert score_squad("", ["France"]) == (0.0, 0.0)
    assert score_squad("France", ["Normandy", "france"]) == (1.0, 1.0)


def test_sample_is_fixed_by_seed():
    items = list(range(100))
    assert sample(items, 10, 3) == sample(items, 10, 3) != sample(items, 10, 4)
    assert sample(items, None, 0) == items


def _row(item, answer, refused, citations, rank=1):
    result = {"answer": answer, "refused": refused, "citations": citations, "short_answer": answer}
    read = {"doc.txt": "Alpha beta gamma. Delta epsilon."}.get
    return {
        "id": item.id,
        "question": item.question,
        "answerable": item.answerable,
        "answer": answer,
        "refused": refused,
        "mode": "extractive",
        "citations": citations,
        "latency_s": 1.0,
        "timings": {"retrieve_s": 0.1, "generate_s": 0.8, "total_s": 1.0},
        "tokens_generated": 5,
        "scores": score_item(item, result, [{"source": "doc.txt", "start": 0, "end": 17}] * rank, read, SUPPORT),
    }


BETA = QuestionItem(
    id="a",
    question="What is beta?",
    answerable=True,
    reference="Alpha beta gamma.",
    facts=["gamma"],
    gold_quotes=["beta gamma"],
)
CITE = [{"marker": 1, "source": "doc.txt", "start": 0, "end": 17, "quote": "Alpha beta gamma."}]


def test_item_scores_and_summary():
    answerable = BETA
    unanswerable = QuestionItem(id="u", question="What is zeta?", answerable=False)
    cite = CITE
    rows = [_row(answerable, "Alpha beta gamma. [1]", False, cite), _row(unanswerable, "No.", True, [])]
    scores = rows[0]["scores"]
    assert scores["correct"] and scores["citation_precision"] == 1.0 and scores["citation_recall"] == 1.0
    assert scores["gold_rank"] == 1 and scores["grounding"] == 1.0 and scores["quotes_verified"]
    summary = summarise(rows)
    assert summary["answerable_correct"] == 1.0 and summary["unanswerable_refused"] == 1.0
    assert summary["hit@1"] == 1.0 and summary["mrr"] == 1.0 and summary["refusal_precision"] == 1.0
    wrong = summarise([_row(answerable, "Nothing here.", True, []), _row(unanswerable, "Zeta is x.", False, cite)])
    assert wrong["answerable_correct"] == 0.0 and wrong["refusal_accuracy"] == 0.0
    table = compare({"brief": summary, "naive": wrong}, "brief", "naive")
    assert table["answerable_correct"] == {"brief": 1.0, "naive": 0.0, "ratio": None}


@pytest.mark.parametrize(
    ("answer", "correct"),
    [
        ("No, according to doc.txt: Alpha beta gamma. [1]", True),
        ("Yes, according to doc.txt: Alpha beta gamma. [1]", False),  # the quote is right, the answer is not
        ("According to doc.txt: Alpha beta gamma. [1]", True),  # says neither: the quote is scored
        ("Nobody denies it: Alpha beta gamma. [1]", True),  # "Nobody" is not "no"
    ],
)
def test_an_answer_that_says_yes_where_the_reference_says_no_is_wrong(answer, correct):
    item = BETA.model_copy(update={"question": "is beta alone?", "reference": "No, it comes with gamma."})
    scores = _row(item, answer, False, CITE)["scores"]
    assert scores["correct"] is correct and scores["polarity_contradicted"] is not correct


def _report(rows):
    summary = summarise(rows)
    return {
        "dataset": "t",
        "created": "now",
        "summary": summary,
        "items": rows,
        "pipelines": {"brief": {"summary": summary, "items": rows}},
    }


def test_reports_escape_content_and_diff_finds_flips():
    item = QuestionItem(
        id="a", question="<script>alert(1)</script>?", answerable=True, facts=["x"], gold_quotes=["beta"]
    )
    bad = _report([_row(item, "<img src=x onerror=alert(1)>", False, [])])
    page = render_html(bad)
    assert "<script>alert" not in page and "<img src=x" not in page and "http" not in page.split("</style>")[1]
    assert "| Answerable correct" in render_markdown(bad)
    cite = [{"marker": 1, "source": "doc.txt", "start": 0, "end": 17, "quote": "Alpha beta gamma."}]
    good = _report([_row(item, "x [1]", False, cite)])
    text = diff_reports(bad, good)
    assert "1 items flipped" in text and "now right" in text and "answerable_correct" in text


def test_the_breakdown_counts_each_kind_of_question_and_follow_ups_apart():
    yes_no = BETA.model_copy(update={"id": "y", "question": "is beta there?"})
    unanswerable = QuestionItem(id="u", question="What is zeta?", answerable=False)
    follow_up = _row(BETA.model_copy(update={"id": "f", "question": "and what is it?"}), "No idea.", True, [])
    follow_up["history"] = ["what is alpha"]
    rows = [
        _row(BETA, "Alpha beta gamma. [1]", False, CITE),  # right
        _row(unanswerable, "Zeta is x. [1]", False, CITE),  # answered: wrong
        _row(yes_no, "Alpha beta gamma. [1]", False, CITE),  # right
        follow_up,  # answerable, refused: wrong
    ]
    groups = {g["group"]: g for g in breakdown(rows)}
    assert list(groups) == ["asks: what", "asks: no question word", "first question", "follow-up"]
    what = groups["asks: what"]
    assert (what["items"], what["answerable"], what["unanswerable"]) == (3, 2, 1)
    assert what["answerable_correct"] == 0.5 and what["unanswerable_refused"] == 0.0
    assert what["handled_right"] == round(1 / 3, 4)
    assert groups["asks: no question word"]["handled_right"] == 1.0
    assert groups["follow-up"]["items"] == 1 and groups["follow-up"]["handled_right"] == 0.0
    assert groups["first question"]["handled_right"] == round(2 / 3, 4)
    page = render_markdown(_report(rows))
    assert "| Questions handled right (%) | 50.0 |" in page
    assert "| asks: what | 3 | 33.3 | 50.0 (2) | 0.0 (1) |" in page and "| follow-up | 1 | 0.0 | 0.0 (1) | – |" in page


def test_gate_fails_below_threshold(tmp_path, capsys):
    limits = tmp_path / "gate.toml"
    limits.write_text("[brief.min]\nanswerable_correct = 0.9\n[brief.max]\nlatency_median_s = 2.0\n")
    assert gate({"answerable_correct": 0.95, "latency_median_s": 1.0}, limits, "brief") == 0
    assert gate({"answerable_correct": 0.5, "latency_median_s": 1.0}, limits, "brief") == 1
    assert "answerable_correct = 0.5 < 0.9" in capsys.readouterr().out
    with pytest.raises(WorkbenchError, match=r"no thresholds for this run: add a \[brief-paraphrases"):
        gate({"answerable_correct": 0.95}, limits, "brief-paraphrases")


def test_tuning_split_is_disjoint_and_stable():
    items = [QuestionItem(id=str(i), question="q", answerable=True) for i in range(40)]
    first, second = split(items)
    assert first and second and not {i.id for i in first} & {i.id for i in second}
    assert split(items) == (first, second)


def test_write_toml_values_keeps_other_settings(tmp_path):
    config = tmp_path / "brief.toml"
    config.write_text('data_dir = "x"\nterm_match = 0.5\n')
    write_toml_values(config, {"term_match": 0.7, "min_relevance": 0.2})
    import tomllib

    assert tomllib.loads(config.read_text()) == {"data_dir": "x", "term_match": 0.7, "min_relevance": 0.2}


def test_a_question_for_a_date_or_number_is_not_answered_by_sentences_without_one():
    flooded = ["The river flooded the valley and the town."]
    when, how_many = answer_type("When did the river flood the valley?"), answer_type("How many towns flooded?")
    assert missing_kind(when, flooded) == "date"
    assert missing_kind(when, ["In May 1995 the river flooded the valley."]) is None
    assert missing_kind(how_many, flooded) == "number"
    assert missing_kind(how_many, ["The river flooded several towns."]) is None
    assert missing_kind(answer_type("What did the river flood?"), flooded) is None
