"""The question analysed once: one tokenizer, one table of question words, and what a conversation makes of a
follow-up. Pure: no model, no index."""

import pytest

from assistant.answers import Turn
from assistant.question import EARLIER_ANSWER_CHARS, Question
from kernel.text import content_words, expand_shorthand, first_wh, words


def test_one_tokenizer_reads_an_abbreviation_as_the_word_users_type():
    assert words("The U.S. seeks access.") == ["the", "us", "seeks", "access"]
    assert "us" in content_words("why does the us care") and "us" in content_words("the U.S. Bureau")


def test_words_keep_letters_of_every_script_and_names_with_underscores():
    assert words("Café in Bamako, pg_dump's output") == ["café", "in", "bamako", "pg_dump", "output"]
    assert "_" not in words("__pwned = 1 _ _")


@pytest.mark.parametrize(
    ("question", "wh", "kind"),
    [
        ("Whom did the U.S. Bureau of African Affairs name?", "who", "person"),
        ("whose influence will the us monitor", "who", "person"),
        ("why does the us care about mali", "why", "any"),
        ("When did the U.S. start?", "when", "date"),
        ("how many countries are named", "how", "number"),
        ("name the metals", "", "any"),
    ],
)
def test_one_table_of_question_words_and_the_kind_of_answer(question, wh, kind):
    asked = Question.analyse(question)
    assert asked.wh == wh == first_wh(words(question))
    assert asked.answer_type == kind


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("whats the capital", "what is the capital"),
        ("Whats it about", "What is it about"),
        ("how many ppl r there", "how many people are there"),
        ("what yr did it start", "what year did it start"),
        ("didnt the us send troops", "didn't the us send troops"),
        ("is the u.s. in it w/o france", "is the u.s. in it without france"),
        ("R and r&d in the U.S.", "R and r&d in the U.S."),
    ],
)
def test_chat_shorthand_is_written_out_as_whole_tokens_only(typed, read):
    assert expand_shorthand(typed) == read


def test_a_question_in_shorthand_asks_what_the_written_out_one_asks():
    typed = Question.analyse("what yr did ppl vote", [Turn(role="user", content="whos the pm")])
    written = Question.analyse("what year did people vote", [Turn(role="user", content="who is the pm")])
    assert typed.answer_type == written.answer_type == "date" and typed.wh == "what"
    assert typed.words == written.words and typed.context_words == written.context_words
    assert Question.analyse("whats the capital").wh == "what"


def test_a_follow_up_stands_for_the_question_it_leans_on():
    earlier = [Turn(role="user", content="what minerals does mali have"), Turn(role="assistant", content="Gold.")]
    follow_up = Question.analyse("why do they want it?", earlier)
    assert follow_up.follow_up and follow_up.about == "what minerals does mali have"
    assert follow_up.queries == ["why do they want it?", "what minerals does mali have why do they want it?"]
    assert "mineral" in follow_up.resolved_words and "mineral" not in follow_up.words
    standalone = Question.analyse("Which critical minerals does Mali hold reserves of?", earlier)
    assert not standalone.follow_up and standalone.queries == [standalone.text]


def test_the_earlier_answer_is_what_the_assistant_said_last_without_its_markers():
    said = "According to brief.txt: Bank of America launched BankAmericard in Fresno. [1] It grew. [2]"
    earlier = [Turn(role="user", content="what did bank of america launch there"), Turn(role="assistant", content=said)]
    follow_up = Question.analyse("what is it called now", earlier)
    assert (
        follow_up.earlier_answer == "According to brief.txt: Bank of America launched BankAmericard in Fresno. It grew."
    )
    long = Question.analyse("and then?", [earlier[0], Turn(role="assistant", content="word " * 200)])
    assert long.earlier_answer.endswith(" …") and len(long.earlier_answer) <= EARLIER_ANSWER_CHARS + 2
    assert Question.analyse("what is it called now", earlier[:1]).earlier_answer == ""
    assert Question.analyse("what is it called now").earlier_answer == ""


def test_names_numbers_and_negation_are_read_once_from_the_question():
    asked = Question.analyse("Did the U.S. not send 1,200 troops to Bamako in 2024?")
    assert asked.numbers == ["1,200", "2024"] and "Bamako" in asked.names and asked.negated
    assert asked.terms == list(content_words(asked.text))


def test_equal_questions_are_one_key_for_the_readers_cache():
    a = Question.analyse("Who announced it?", [Turn(role="user", content="What did the bureau announce?")])
    b = Question.analyse("Who announced it?", [Turn(role="user", content="What did the bureau announce?")])
    assert a == b and hash(a) == hash(b)


@pytest.mark.parametrize(
    ("question", "overview"),
    [
        ("whats this about", True),
        ("summarize the brief in one line", True),
        ("tl;dr pls", True),
        ("What is this article about?", True),
        ("give me the gist of why it matters", False),  # asks about one part: "why it matters"
        ("sum up what happens next", False),
        ("what is mali about", False),
        ("what is the us worried about", False),
    ],
)
def test_a_request_for_the_gist_is_told_from_a_question_about_one_part(question, overview):
    assert Question.analyse(question).asks_overview is overview
