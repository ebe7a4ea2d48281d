"""Question-set evaluation: pure scoring functions, and a runner that asks every question and writes
report.json. No LLM judge: facts are matched as text, citations against gold quotes by character span."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError


class QuestionItem(BaseModel):
    id: str
    question: str
    history: list[str] = []
    answerable: bool
    reference: str = ""
    facts: list[str] = []
    gold_quotes: list[str] = []


class QuestionSetError(ValueError):
    pass


def load_questions(path: Path) -> list[QuestionItem]:
    if not path.is_file():
        raise QuestionSetError(f"{path}: question set not found")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(QuestionItem(**json.loads(line)))
        except (json.JSONDecodeError, ValidationError, TypeError) as exc:
            raise QuestionSetError(f"{path}:{number}: not a valid question item: {exc}") from exc
    if not items:
        raise QuestionSetError(f"{path}: no questions")
    return items


def fact_present(fact: str, answer: str) -> bool:
    """A fact is present if any of its '|'-separated alternatives appears in the answer (case-insensitive)."""
    lowered = " ".join(answer.lower().split())
    return any(alt.strip().lower() in lowered for alt in fact.split("|") if alt.strip())


def fact_recall(facts: list[str], answer: str) -> float:
    return sum(fact_present(f, answer) for f in facts) / len(facts) if facts else 1.0


def spans_of(quote: str, text: str) -> list[tuple[int, int]]:
    out, start = [], text.find(quote)
    while start != -1:
        out.append((start, start + len(quote)))
        start = text.find(quote, start + 1)
    return out


def citation_hit(citations: list[dict], gold_quotes: list[str], read_source: Callable[[str], str | None]) -> bool:
    """Whether any cited span overlaps any gold quote's span in the same source file."""
    for c in citations:
        text = read_source(c["source"])
        if text is None:
            continue
        for gold in gold_quotes:
            if any(c["start"] < e and s < c["end"] for s, e in spans_of(gold, text)):
                return True
    return False


def quote_verified(citation: dict, read_source: Callable[[str], str | None]) -> bool:
    text = read_source(citation["source"])
    return text is not None and text[citation["start"] : citation["end"]] == citation["quote"]


def score_item(item: QuestionItem, result: dict, read_source) -> dict:
    refused = result["refused"]
    citations = result["citations"]
    scores = {
        "refusal_correct": refused == (not item.answerable),
        "quotes_verified": all(quote_verified(c, read_source) for c in citations),
        "uncited_answer": (not refused) and not citations,
    }
    if item.answerable:
        recall = 0.0 if refused else fact_recall(item.facts, result["answer"])
        hit = (not refused) and citation_hit(citations, item.gold_quotes, read_source)
        scores.update(fact_recall=recall, citation_hit=hit, correct=(not refused) and recall == 1.0 and hit)
    else:
        scores.update(correct=refused)
    return scores


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summarise(items: list[dict]) -> dict:
    answerable = [i for i in items if i["answerable"]]
    unanswerable = [i for i in items if not i["answerable"]]
    latencies = [i["latency_s"] for i in items]

    def share(rows, key):
        return round(sum(bool(r["scores"][key]) for r in rows) / len(rows), 4) if rows else None

    return {
        "items": len(items),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answerable_correct": share(answerable, "correct"),
        "unanswerable_refused": share(unanswerable, "correct"),
        "fact_recall": round(statistics.mean(r["scores"]["fact_recall"] for r in answerable), 4)
        if answerable
        else None,
        "citation_hit": share(answerable, "citation_hit"),
        "refusal_accuracy": share(items, "refusal_correct"),
        "answered_without_citation": sum(bool(r["scores"]["uncited_answer"]) for r in items),
        "quotes_verified": share(items, "quotes_verified"),
        "generated_share": round(sum(r.get("mode") == "generated" for r in items) / len(items), 4) if items else None,
        "latency_median_s": round(statistics.median(latencies), 4) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 0.95), 4),
    }


class SourceReader:
    """Reads cited source files once; citations are checked against the files on disk."""

    def __init__(self):
        self._cache: dict[str, str | None] = {}

    def __call__(self, source: str) -> str | None:
        if source not in self._cache:
            try:
                self._cache[source] = Path(source).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                self._cache[source] = None
        return self._cache[source]


class EvalRun(BaseModel):
    summary: dict = Field(default_factory=dict)
    items: list[dict] = Field(default_factory=list)


def run_eval(assistant, items: list[QuestionItem], progress: bool = True) -> EvalRun:
    """Ask every question (with its history) and score it. Ctrl-C stops early and keeps what was scored."""
    from tqdm import tqdm

    read_source = SourceReader()
    rows = []
    bar = tqdm(items, desc="evaluating", unit="q", disable=not progress)
    try:
        for item in bar:
            history = [{"role": "user", "content": h} for h in item.history]
            started = time.perf_counter()
            answer = assistant.ask(item.question, history=history)
            latency = time.perf_counter() - started
            result = answer.to_public()
            rows.append(
                {
                    "id": item.id,
                    "question": item.question,
                    "history": item.history,
                    "answerable": item.answerable,
                    "answer": answer.answer,
                    "refused": answer.refused,
                    "mode": answer.mode,
                    "citations": result["citations"],
                    "latency_s": round(latency, 4),
                    "timings": result["timings"],
                    "scores": score_item(item, result, read_source),
                }
            )
    except KeyboardInterrupt:
        bar.close()
    run = EvalRun(items=rows)
    run.summary = summarise(rows) | {"complete": len(rows) == len(items)}
    return run


def format_summary(summary: dict) -> str:
    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f} %"

    lines = [
        f"items               {summary['items']} ({summary['answerable']} answerable, {summary['unanswerable']} not)",
        f"answerable correct  {pct(summary['answerable_correct'])}   (all facts present and a gold quote cited)",
        f"unanswerable refused {pct(summary['unanswerable_refused'])}",
        f"fact recall         {pct(summary['fact_recall'])}",
        f"citation hit        {pct(summary['citation_hit'])}",
        f"refusal accuracy    {pct(summary['refusal_accuracy'])}",
        f"answers citing none {summary['answered_without_citation']}",
        f"quotes verified     {pct(summary['quotes_verified'])}",
        f"model text kept     {pct(summary['generated_share'])}   (the rest quote the evidence or refuse)",
        f"latency median      {summary['latency_median_s']} s   p95 {summary['latency_p95_s']} s",
    ]
    if not summary.get("complete", True):
        lines.append("(interrupted: partial report)")
    return "\n".join(lines)
