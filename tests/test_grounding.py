from assistant.grounding import (
    answer_sentences,
    best_extract,
    completeness,
    echoed_terms,
    is_non_answer,
    rrf_fuse,
    sentence_coverage,
    support_score,
    verify_answer,
)
from kernel.text import content_words, stem, stems_match

EVIDENCE = [
    "The country is a major producer of gold and holds reserves of critical minerals like lithium and uranium.",
    "The U.S. aims to respect Mali's sovereignty.",
]


def test_rrf_rewards_items_ranked_well_by_both():
    fused = rrf_fuse([["a", "b", "c"], ["b", "c", "a"]], k=10)
    assert fused[0][0] == "b"
    assert {item for item, _ in fused} == {"a", "b", "c"}


def test_sentence_coverage_finds_missing_question_words():
    asked = content_words("What is Mali's population?")
    sentence = content_words("Mali holds reserves of uranium.")
    assert sentence_coverage(asked, sentence) == ["population"]
    assert (
        sentence_coverage(content_words("Which minerals does Mali hold?"), content_words(EVIDENCE[0] + " Mali")) == []
    )


def test_sentence_coverage_uses_the_similarity_predicate():
    asked = content_words("Which nations?")
    sentence = content_words("neighboring countries")
    assert sentence_coverage(asked, sentence) == ["nations"]
    assert sentence_coverage(asked, sentence, lambda a, b: (a, b) == ("nations", "countries")) == []


def test_verify_answer_accepts_supported_and_rejects_invented_text():
    verdicts, ok = verify_answer("Mali holds reserves of lithium and uranium [1].", EVIDENCE, 0.75)
    assert ok and verdicts[0][1] == [1]
    _, ok = verify_answer("Mali has a population of 20 million [1].", EVIDENCE, 0.75)
    assert not ok
    # No marker: the best-supporting sentence is assigned.
    verdicts, ok = verify_answer("The U.S. aims to respect Mali's sovereignty.", EVIDENCE, 0.75)
    assert ok and verdicts[0][1] == [2]


def test_numbers_must_appear_in_the_evidence():
    assert support_score("Mali produces 70 tonnes of gold.", ["Mali produces gold."]) == 0.0


def test_completeness_penalises_dropping_half_a_list():
    question = "Which critical minerals does Mali hold reserves of?"
    assert completeness("Lithium [1].", EVIDENCE[0], question) < 0.5
    assert completeness(EVIDENCE[0], EVIDENCE[0], question) == 1.0


def test_answer_sentences_keep_markers_and_abbreviations():
    assert answer_sentences("The U.S. aims high. [1] It works [2].") == ["The U.S. aims high [1].", "It works [2]."]


def test_non_answers_are_detected():
    assert is_non_answer("This is not mentioned in the sources.")
    assert not is_non_answer("Lithium and uranium [1].")


def test_best_extract_adds_a_second_sentence_only_for_missing_words():
    assert best_extract(["lithium"], EVIDENCE) == [0]
    assert best_extract(["lithium", "sovereignty"], EVIDENCE) == [0, 1]


def test_with_ties_a_second_sentence_holding_as_many_question_words_is_quoted_too():
    """Word coverage cannot tell which of two sentences holding the same question words answers: both are
    shown. One that holds fewer is not; nor is a third."""
    tied = ["Mali holds gold reserves.", "Mali's mineral wealth includes gold and lithium.", "Mali has gold mines."]
    assert best_extract([stem("mali"), stem("gold")], tied) == [0]
    assert best_extract([stem("mali"), stem("gold")], tied, ties=True) == [0, 1]
    assert best_extract(["lithium"], EVIDENCE, ties=True) == [0]
    assert best_extract([stem("mali"), stem("gold")], tied[:1], ties=True) == [0]


def test_stemming_matches_inflections():
    assert stems_match(stem("minerals"), stem("mineral"))
    assert stems_match(stem("aims"), stem("aim"))
    assert stems_match(stem("neighboring"), stem("neighbor"))
    assert not stems_match(stem("population"), stem("president"))


def test_the_question_s_own_claim_is_found_when_the_evidence_lacks_it():
    sovereignty = (
        "The U.S. aims to respect Mali's sovereignty while addressing strategic economic and security interests."
    )
    echoed = "The U.S. has lifted sanctions on Mali to address strategic economic and security interests. [1]"
    assert echoed_terms(echoed, "did the us lift sanctions on mali", [sovereignty]) == ["lift", "sanction"]
    assert support_score(echoed, [sovereignty]) >= 0.75, "the share check alone lets it through"
    assert (
        echoed_terms("The U.S. aims to respect Mali's sovereignty. [1]", "does the us respect mali", [sovereignty])
        == []
    )


def test_model_text_that_states_the_question_s_claim_is_replaced_by_the_quote():
    """A yes/no question's claim, restated by the model over a sentence that does not make it, is not kept."""
    from assistant import Assistant, Chunk, Evidence
    from assistant.question import Question
    from kernel.settings import load_settings

    text = "The U.S. aims to respect Mali's sovereignty while addressing strategic economic and security interests."
    evidence = [Evidence(chunk=Chunk(id="0", text=text, source="b.txt", start=0, end=len(text)), quote=text, score=0.5)]
    assistant = Assistant(load_settings())
    question = Question.analyse("did the us lift sanctions on mali")
    written = "The U.S. has lifted sanctions on Mali to address strategic economic and security interests. [1]"
    answer = assistant.compose(question, written, evidence)
    assert answer.mode == "extractive" and "sanctions" not in answer.answer and text in answer.answer


def test_model_text_that_skips_a_needed_sentence_is_replaced_by_the_quotes():
    """The first sentence is on the topic, the second holds the asked-for word ('cooperation'): a model answer
    citing only the first is not kept; one citing both is."""
    from assistant import Assistant, Chunk, Evidence

    first = "The U.S. is likely to continue its diplomatic efforts to solidify its presence in the Sahel."
    second = "The U.S. aims to strengthen its security in the Sahel, ensuring continued intelligence cooperation."
    evidence = [
        Evidence(chunk=Chunk(id=str(n), text=t, source="b.txt", section="", start=0, end=len(t)), quote=t, score=0.5)
        for n, t in enumerate([first, second])
    ]
    from assistant.question import Question
    from kernel.settings import load_settings

    question = Question.analyse("What kind of cooperation does the U.S. want to continue in the Sahel?")
    assistant = Assistant(load_settings())
    partial = assistant.compose(question, f"{first} [1]", evidence)
    assert partial.mode == "extractive" and "intelligence cooperation" in partial.answer
    both = assistant.compose(question, f"{first} [1] It wants continued intelligence cooperation. [2]", evidence)
    assert both.mode == "generated" and [c.quote for c in both.citations] == [first, second]


def test_streamed_model_text_the_evidence_does_not_hold_is_replaced_by_the_quote(mocked):
    """Edge case, with a fake model (the behaviour itself is tested with the real one): the tokens stream as
    written, the final answer quotes the evidence instead."""
    from assistant import Final, Token
    from tests.support import MODEL_QUESTION

    assistant = mocked("Mali has a population of 20 million [1].")
    *tokens, final = assistant.ask_stream(MODEL_QUESTION)
    assert "".join(t.text for t in tokens) == "Mali has a population of 20 million [1]."
    assert all(isinstance(t, Token) for t in tokens) and isinstance(final, Final)
    assert final.answer.mode == "extractive" and "20 million" not in final.answer.answer
    assert final.answer.citations[0].quote in final.answer.answer
    (prompt,) = assistant.chat_model.prompts
    assert final.answer.citations[0].quote in prompt[-1].content, "the model saw the sentence it is checked against"


def test_a_model_that_writes_nothing_gets_the_quote(mocked):
    from tests.support import MODEL_QUESTION

    answer = mocked("").ask(MODEL_QUESTION)
    assert answer.mode == "extractive" and answer.tokens_generated == 0 and answer.citations
