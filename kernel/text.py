"""Word-level text utilities shared by lexical search, grounding checks and scoring. Pure functions."""

from __future__ import annotations

import re

# A word: letters and digits of any script, joined by hyphens, apostrophes or underscores ("pg_dump", "don't",
# "military-led"); or an abbreviation of single letters with dots ("U.S.", "e.g."), read without its dots, so
# that a user who types "us" finds "U.S.".
_WORD = re.compile(r"(?:[^\W\d_]\.){2,}|[^\W_]+(?:[-'’_][^\W_]+)*")
_ABBREVIATION = re.compile(r"(?:[^\W\d_]\.){2,}")

# The question words, one table: each maps to the word it asks as ("whom", "whose": "who").
WH_WORDS = ("what", "which", "who", "when", "where", "why", "how")
WH_ALIASES = {"whom": "who", "whose": "who"}

# English function words, plus the words that frame a question rather than carry its content.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "nor",
        "if",
        "then",
        "else",
        "so",
        "than",
        "that",
        "this",
        "these",
        "those",
        "there",
        "here",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "without",
        "about",
        "as",
        "into",
        "onto",
        "over",
        "under",
        "between",
        "through",
        "during",
        "before",
        "after",
        "above",
        "below",
        "up",
        "down",
        "out",
        "off",
        "again",
        "further",
        "once",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "done",
        "doing",
        "have",
        "has",
        "had",
        "having",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "me",
        "my",
        "we",
        "our",
        "ours",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "it",
        "its",
        "they",
        "them",
        "their",
        "theirs",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "no",
        "not",
        "only",
        "own",
        "same",
        "too",
        "very",
        "just",
        "also",
        "s",
        "t",
        "don",
        "now",
        "yes",
        "one",
        "ones",
        "according",
        "brief",
        "document",
        "text",
        "passage",
        "article",
        "say",
        "says",
        "said",
        "saying",
        "mention",
        "mentions",
        "mentioned",
        "tell",
        "tells",
        "told",
        "describe",
        "describes",
        "described",
        "explain",
        "explains",
        "give",
        "gives",
        "given",
        "name",
        "names",
        "named",
        "list",
        "called",
        "call",
        "kind",
        "kinds",
        "type",
        "types",
        "sort",
        "way",
        "ways",
        "thing",
        "things",
        "example",
        "examples",
        "etc",
        "let",
        "lets",
        "like",
        "happen",
        "happens",
        "happened",
        "happening",
        "reason",
        "reasons",
        "purpose",
        "mean",
        "means",
        "meaning",
        "role",
        "care",
        "cares",
        "cared",
        "want",
        "wants",
        "wanted",
        "answer",
        "answers",
        "question",
        "questions",
        "many",
        "much",
        "often",
        "long",
        "focus",
        "focuses",
        "matter",
        "against",
        "among",
        "within",
        "across",
        "toward",
        "towards",
        "upon",
        "via",
        "per",
        "including",
        "regarding",
        "concerning",
        "think",
        "thinks",
        "get",
        "gets",
        "got",
        "make",
        "makes",
        "made",
        "go",
        "goes",
        "going",
        "use",
        "used",
        "using",
    ]
)

_SUFFIXES = (
    "ational",
    "ization",
    "fulness",
    "ousness",
    "iveness",
    "ations",
    "ation",
    "ments",
    "ment",
    "ings",
    "ing",
    "ies",
    "ied",
    "ers",
    "er",
    "ed",
    "es",
    "ly",
    "s",
)


def words(text: str, split_hyphens: bool = True) -> list[str]:
    """Lower-cased word tokens, the one tokenizer every stage uses: hyphenated words kept whole and, if
    asked, also split; a possessive 's dropped; an abbreviation's dots dropped ("U.S." is "us")."""
    out = []
    for match in _WORD.finditer(text):
        token = match.group().lower().replace("’", "'")
        if _ABBREVIATION.fullmatch(token):
            token = token.replace(".", "")
        if token.endswith("'s"):
            token = token[:-2]
        out.append(token)
        if split_hyphens and "-" in token:
            out.extend(part for part in token.split("-") if len(part) > 2)
    return out


# Chat shorthand, read as what it stands for ("whats the capital", "how many ppl r there", "what yr"): a
# contraction typed without its apostrophe, and common English abbreviations of chat, not the words of any
# document. Ours, not the `contractions` package's: its slang table turns the "u" of "u.s." into "you.s.".
SHORTHAND = {
    "whats": "what is",
    "thats": "that is",
    "whos": "who is",
    "wheres": "where is",
    "whens": "when is",
    "hows": "how is",
    "isnt": "isn't",
    "arent": "aren't",
    "wasnt": "wasn't",
    "werent": "weren't",
    "dont": "don't",
    "doesnt": "doesn't",
    "didnt": "didn't",
    "hasnt": "hasn't",
    "havent": "haven't",
    "hadnt": "hadn't",
    "cant": "can't",
    "couldnt": "couldn't",
    "wouldnt": "wouldn't",
    "shouldnt": "shouldn't",
    "u": "you",
    "r": "are",
    "ur": "your",
    "ppl": "people",
    "thru": "through",
    "tho": "though",
    "bc": "because",
    "abt": "about",
    "w/": "with",
    "w/o": "without",
    "yr": "year",
    "yrs": "years",
    "govt": "government",
    "approx": "approximately",
    "dept": "department",
    "intl": "international",
    "natl": "national",
    "pct": "percent",
    "avg": "average",
}
# A whole token only: not the "u" of "u.s.", not "r&d"; one letter only in lower case ("R" may be a name).
_SHORTHAND = re.compile(
    r"(?<![\w.'’/&-])(" + "|".join(re.escape(k) for k in sorted(SHORTHAND, key=len, reverse=True)) + r")(?![\w.'’/&-])",
    re.IGNORECASE,
)


def expand_shorthand(text: str) -> str:
    """`text` with its chat shorthand written out, a capital kept ("Whats" -> "What is")."""

    def written_out(match: re.Match) -> str:
        typed = match.group()
        if len(typed) == 1 and typed.isupper():
            return typed
        full = SHORTHAND[typed.lower()]
        return full[0].upper() + full[1:] if typed[0].isupper() else full

    return _SHORTHAND.sub(written_out, text)


def first_wh(tokens: list[str]) -> str:
    """The first question word among `tokens` (as `words` gives them), by what it asks as; '' if none."""
    return next((WH_ALIASES.get(t, t) for t in tokens if t in WH_WORDS or t in WH_ALIASES), "")


def stem(word: str) -> str:
    """A light suffix-stripping stemmer: enough to match 'minerals'/'mineral', 'neighboring'/'neighbor'."""
    if word.isdigit() or len(word) <= 4:
        return word[:-1] if len(word) == 4 and word.endswith("s") and not word.endswith("ss") else word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            base = word[: -len(suffix)]
            if suffix in {"ies", "ied"}:
                base += "y"
            return base
    return word


def content_words(text: str, split_hyphens: bool = True) -> dict[str, str]:
    """The words that carry content (no stopwords), keyed by stem, in order of first appearance."""
    seen: dict[str, str] = {}
    for word in words(text, split_hyphens):
        if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
            continue
        seen.setdefault(stem(word), word)
    return seen


def content_terms(text: str) -> list[str]:
    """Stems of the words that carry content, in order, without repeats."""
    return list(content_words(text))


def stems_match(a: str, b: str) -> bool:
    """Equal stems, or one a prefix of the other when both are long enough ('produc' / 'producer')."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= 5 and long_.startswith(short)
