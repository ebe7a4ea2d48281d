"""What a conversation's earlier turns mean for the next question: whether it leans on them (a follow-up) and
what it is then about. Retrieval, the refusal decision and the prompt all read it."""

from __future__ import annotations

from assistant.answers import Turn
from kernel.text import content_terms, words

FOLLOW_UP_WORDS = frozenset(
    [
        "it",
        "its",
        "they",
        "them",
        "their",
        "theirs",
        "this",
        "that",
        "these",
        "those",
        "he",
        "him",
        "his",
        "she",
        "her",
        "there",
        "such",
        "former",
        "latter",
    ]
)


def is_follow_up(question: str) -> bool:
    """A question that leans on the one before: it points back ('them', 'that country') or says too little
    on its own ('In which sector in particular?')."""
    return bool(set(words(question)) & FOLLOW_UP_WORDS) or len(content_terms(question)) <= 2


def referent(history: list[Turn]) -> str:
    """What a follow-up is about: the previous question, and the one before it too when the previous one
    was itself a follow-up ('Why does the U.S. care about them?' after a question on minerals)."""
    earlier = [t.content for t in history if t.role == "user"]
    taken: list[str] = []
    for turn in reversed(earlier):
        taken.insert(0, turn)
        if not is_follow_up(turn):
            break
    return " ".join(taken)
