"""The local model's prompt cache, with the real model and the real index: after the pre-read `brief serve`
does, a question citing an indexed sentence costs the model only the question's own words."""

import pytest

from assistant.question import Question
from tests.support import MODEL_QUESTION


@pytest.fixture(scope="module")
def fresh(brief_workspace):
    """An Assistant with its own model, so that its prompt cache starts empty."""
    from assistant import Assistant, load_settings

    a = Assistant(load_settings(data_dir=str(brief_workspace / ".brief")))
    a.warm_up()
    return a


def read_and_reused(assistant) -> tuple[int, int]:
    timings = assistant.chat_model.last_timings
    return timings["prompt_n"], timings["cache_n"]


def test_after_the_pre_read_a_question_reads_only_its_own_words(fresh):
    cold = fresh.ask("Does the U.S. aim to respect Mali's sovereignty?")
    cold_read, _ = read_and_reused(fresh)
    assert fresh.prefill_prompt_cache() == fresh.store.count() == 15

    warm = fresh.ask(MODEL_QUESTION)
    warm_read, warm_reused = read_and_reused(fresh)
    assert not cold.refused and not warm.refused
    assert len(warm.citations) == 1 and "counterterrorism" in warm.citations[0].quote
    assert cold_read >= 40, "without the pre-read the model reads the source sentence"
    assert warm_read <= 25 < warm_reused, "after it, only the question (the sentence comes from the cache)"


def test_the_pre_read_keeps_every_sentence_in_the_cache(fresh):
    """llama.cpp moves a cached prompt into its slot, and so loses it, when a new prompt shares more with it
    than with the slot's own; the pre-read's order must not let one sentence's prompt evict another's."""
    fresh.prefill_prompt_cache()
    for chunk in fresh.store.all_chunks():
        fresh.chat_model.invoke(fresh.prompt(Question(""), [chunk.text]), max_tokens=1)
        read, _ = read_and_reused(fresh)
        assert read <= 3, f"the prompt citing {chunk.text[:40]!r} was read again ({read} tokens)"
