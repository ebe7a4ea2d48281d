from index.chunking import chunk_document, normalise_whitespace, split_sentences
from tests.support import BRIEF


def test_brief_sentences_keep_sections_and_exact_offsets():
    text = BRIEF.read_text(encoding="utf-8")
    sentences = chunk_document(text)
    assert [s.section for s in sentences[:1]] == ["What's Happening?"]
    assert {s.section for s in sentences} == {"What's Happening?", "Why It's Important?", "What's Next?"}
    for s in sentences:
        assert text[s.start : s.end].split() == s.text.split()
        assert not text[s.start].isspace() and not text[s.end - 1].isspace()
    # The hard line break inside a sentence is joined, and the quote still spans it verbatim.
    joined = next(s for s in sentences if s.text.startswith("This move is part of a broader strategy"))
    assert "\n" in text[joined.start : joined.end]
    # "U.S. Bureau" does not end a sentence; the brief has 15 sentences; trailing blank lines add none.
    assert any("U.S. Bureau of African Affairs." in s.text for s in sentences)
    assert len(sentences) == 15


def test_markdown_headings_and_paragraphs():
    text = "# Title\n\nFirst para one. Second sentence here.\n\n## Costs\nIt costs 5.5 dollars. Dr. Smith agrees.\n"
    sentences = chunk_document(text)
    assert [(s.section, s.text) for s in sentences] == [
        ("Title", "First para one."),
        ("Title", "Second sentence here."),
        ("Costs", "It costs 5.5 dollars."),
        ("Costs", "Dr. Smith agrees."),
    ]


def test_normalise_whitespace_maps_back_to_the_original():
    text = "  a\n\tb   c "
    flat, origin = normalise_whitespace(text)
    assert flat == "a b c"
    assert [text[i] for i in origin if not text[i].isspace()] == ["a", "b", "c"]


def test_split_sentences_handles_initialisms_and_questions():
    text = "The U.S. aims high. Is it so? Yes! Mr. Brown left."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "The U.S. aims high.",
        "Is it so?",
        "Yes!",
        "Mr. Brown left.",
    ]


def test_empty_and_whitespace_only_documents_have_no_sentences():
    assert chunk_document("") == []
    assert chunk_document("\n\n   \n") == []
