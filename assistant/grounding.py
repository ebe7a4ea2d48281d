"""Grounding checks, as pure functions: fusion of rankings, whether the evidence covers the question, whether
each answer sentence is supported by the sentences it cites, and the extractive fallback."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from index.chunking import split_sentences
from kernel.text import content_terms, content_words, stems_match, words  # noqa: F401

MARKER = re.compile(r"\[(\d{1,2})\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
NON_ANSWERS = (
    "not mentioned",
    "not provided",
    "not specified",
    "not stated",
    "does not say",
    "doesn't say",
    "does not mention",
    "doesn't mention",
    "no information",
    "not available",
    "i don't know",
    "i do not know",
    "cannot answer",
    "can't answer",
    "unable to",
    "not enough information",
    "sorry",
)


def rrf_fuse(rankings: Sequence[Sequence[str]], k: int) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: ids ordered by the sum of 1/(k + rank) over the rankings they appear in (`k` is
    the `rrf_k` setting)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda p: (-p[1], p[0]))


def covered(term: str, vocabulary: Sequence[str]) -> bool:
    return any(stems_match(term, v) for v in vocabulary)


def sentence_coverage(
    question_words: dict[str, str],
    sentence_words: dict[str, str],
    similar: Callable[[str, str], bool] | None = None,
) -> list[str]:
    """The question's content words that one evidence sentence does not contain, neither with the same stem
    nor (when `similar` is given) as a word close in meaning."""
    stems = list(sentence_words)
    missing = []
    for term, word in question_words.items():
        if covered(term, stems):
            continue
        if similar is not None and any(similar(word, w) for w in sentence_words.values()):
            continue
        missing.append(word)
    return missing


def answer_sentences(text: str) -> list[str]:
    """Split model output into sentences (abbreviation-aware), each keeping the markers that follow it."""
    flat = " ".join(text.split())
    flat = re.sub(r"([.!?])\s*((?:\[\d{1,2}\]\s*)+)", lambda m: " " + m.group(2).strip() + m.group(1) + " ", flat)
    return [flat[s:e].strip() for s, e in split_sentences(flat.strip())]


def markers_in(text: str) -> list[int]:
    return [int(m) for m in MARKER.findall(text)]


def strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d{1,2}\]", "", text).strip()


def support_score(sentence: str, evidence: Sequence[str]) -> float:
    """Share of the sentence's content terms found in the evidence; 0 if it states a number the evidence
    does not contain."""
    terms = content_terms(strip_markers(sentence))
    if not terms:
        return 0.0
    vocabulary = sorted({t for text in evidence for t in content_terms(text)})
    evidence_numbers = {n for text in evidence for n in _NUMBER.findall(text)}
    if any(n not in evidence_numbers for n in _NUMBER.findall(strip_markers(sentence))):
        return 0.0
    return sum(covered(t, vocabulary) for t in terms) / len(terms)


def is_non_answer(text: str) -> bool:
    lowered = text.lower()
    return not text.strip() or any(phrase in lowered for phrase in NON_ANSWERS)


def adds_information(answer: str, question: str, history: Sequence[str] = ()) -> bool:
    """Whether the answer says something beyond restating the question (and the conversation so far)."""
    asked = content_terms(" ".join([question, *history]))
    return any(not covered(t, asked) for t in content_terms(strip_markers(answer)))


def echoed_terms(answer: str, question: str, evidence: Sequence[str]) -> list[str]:
    """Words of the question that the answer states and none of its evidence holds. A small model turns "did
    the us lift sanctions?" into "The U.S. has lifted sanctions [1]" over a sentence that never mentions them:
    most of its words are the sentence's, so the share check passes, but the claim is the question's."""
    asked = content_terms(question)
    vocabulary = sorted({t for text in evidence for t in content_terms(text)})
    said = content_terms(strip_markers(answer))
    return [t for t in dict.fromkeys(said) if covered(t, asked) and not covered(t, vocabulary)]


def completeness(answer: str, best_evidence: str, question: str) -> float:
    """Share of the best evidence sentence's new words (those not in the question) that the answer keeps;
    a terse answer that drops half a list ('lithium' for 'lithium and uranium') scores low."""
    asked = content_terms(question)
    new = [t for t in content_terms(best_evidence) if not covered(t, asked)]
    if not new:
        return 1.0
    said = content_terms(strip_markers(answer))
    return sum(covered(t, said) for t in new) / len(new)


def verify_answer(
    text: str, evidence: Sequence[str], threshold: float
) -> tuple[list[tuple[str, list[int], bool]], bool]:
    """For each answer sentence: the evidence numbers (1-based) it cites and whether they support it.

    A sentence without a valid marker is assigned the single evidence sentence that supports it best. Returns
    the per-sentence verdicts and whether the whole answer is supported."""
    verdicts = []
    for sentence in answer_sentences(text):
        cited = [m for m in markers_in(sentence) if 1 <= m <= len(evidence)]
        if not cited:
            best = max(range(len(evidence)), key=lambda i: support_score(sentence, [evidence[i]]), default=None)
            cited = [best + 1] if best is not None else []
        ok = bool(cited) and support_score(sentence, [evidence[m - 1] for m in cited]) >= threshold
        verdicts.append((strip_markers(sentence), cited, ok))
    return verdicts, bool(verdicts) and all(ok for _, _, ok in verdicts)


def best_extract(
    question_terms: Sequence[str], evidence: Sequence[str], max_sentences: int = 2, ties: bool = False
) -> list[int]:
    """Evidence indices (0-based) to quote when the model's text cannot be used: the top-ranked sentence, and
    the next one too if it covers question terms the first one lacks, or, with `ties`, if it holds as many of
    the question's terms as the first: word coverage cannot tell which of the two answers, so both are shown."""
    if not evidence:
        return []
    chosen = [0]
    first_terms = content_terms(evidence[0])
    missing = [t for t in question_terms if not covered(t, first_terms)]
    for i in range(1, len(evidence)):
        if len(chosen) >= max_sentences or not missing:
            break
        terms = content_terms(evidence[i])
        if any(covered(t, terms) for t in missing):
            chosen.append(i)
            missing = [t for t in missing if not covered(t, terms)]
    if ties and len(chosen) == 1 < min(len(evidence), max_sentences):
        second = content_terms(evidence[1])
        if sum(covered(t, second) for t in question_terms) == len(question_terms) - len(missing):
            chosen.append(1)
    return chosen
