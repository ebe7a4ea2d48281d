"""Evaluation without an LLM judge: question sets (JSONL or SQuAD 2.0), pure per-item scoring, summaries and a
runner that can score two pipelines on the same items in one run."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from assistant.grounding import verify_answer
from assistant.pipeline import Pipeline
from assistant.question import Question
from workbench.squad import score_squad

RETRIEVAL_KS = (1, 3, 5, 10)


class QuestionItem(BaseModel):
    id: str
    split: str = ""  # "dev" (tune on it) or "test" (only scored), for sets that are split
    question: str
    history: list[str] = []
    answerable: bool
    reference: str = ""
    facts: list[str] = []
    gold_quotes: list[str] = []
    answers: list[str] = []  # SQuAD gold answers: scored as short answers with the official rules
    gold_sources: list[str] = []  # SQuAD gold paragraph(s): a retrieved sentence from one of them is a hit


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


# Pure scoring --------------------------------------------------------------------------------------------
def fact_present(fact: str, answer: str) -> bool:
    """A fact is present if any of its '|'-separated alternatives appears in the answer (case-insensitive)."""
    lowered = " ".join(answer.lower().split())
    return any(alt.strip().lower() in lowered for alt in fact.split("|") if alt.strip())


_POLARITY = re.compile(r"\s*(yes|no)\b", re.IGNORECASE)


def stated_polarity(text: str) -> str:
    """'yes' or 'no' when a text opens with it ("Yes, according to ...", "No, it is military-led."), else ''."""
    match = _POLARITY.match(text)
    return match.group(1).lower() if match else ""


def contradicts(answer: str, reference: str) -> bool:
    """An answer that opens with yes where the reference says no, or the other way round: wrong, whatever
    it quotes."""
    said, expected = stated_polarity(answer), stated_polarity(reference)
    return bool(said and expected and said != expected)


def fact_recall(facts: list[str], answer: str) -> float:
    return sum(fact_present(f, answer) for f in facts) / len(facts) if facts else 1.0


def spans_of(quote: str, text: str) -> list[tuple[int, int]]:
    out, start = [], text.find(quote)
    while start != -1:
        out.append((start, start + len(quote)))
        start = text.find(quote, start + 1)
    return out


def overlaps_gold(passage: dict, gold_quotes: list[str], read_source: Callable[[str], str | None]) -> list[int]:
    """Indices of the gold quotes whose span in the passage's source overlaps the passage's [start, end)."""
    text = read_source(passage["source"])
    if text is None:
        return []
    return [
        i
        for i, gold in enumerate(gold_quotes)
        if any(passage["start"] < e and s < passage["end"] for s, e in spans_of(gold, text))
    ]


def is_gold(passage: dict, item: QuestionItem, read_source) -> bool:
    if item.gold_sources:
        return passage["source"] in item.gold_sources
    return bool(overlaps_gold(passage, item.gold_quotes, read_source))


def quote_verified(citation: dict, read_source: Callable[[str], str | None]) -> bool:
    text = read_source(citation["source"])
    return text is not None and text[citation["start"] : citation["end"]] == citation["quote"]


def gold_rank(ranked: list[dict], item: QuestionItem, read_source) -> int | None:
    """1-based rank of the first gold passage in the retrieval ranking, or None."""
    return next((r for r, p in enumerate(ranked, start=1) if is_gold(p, item, read_source)), None)


def score_item(item: QuestionItem, result: dict, ranked: list[dict], read_source, support_threshold: float) -> dict:
    """Every per-item metric. `result` is the `ask --json` shape, `ranked` the retrieval ranking."""
    refused, citations, answer = result["refused"], result["citations"], result["answer"]
    scores: dict = {
        "refused": refused,
        "refusal_correct": refused == (not item.answerable),
        "quotes_verified": all(quote_verified(c, read_source) for c in citations),
        "uncited_answer": (not refused) and not citations,
        "gold_rank": gold_rank(ranked, item, read_source) if item.answerable else None,
    }
    if item.answers or item.gold_sources:  # SQuAD: short answers, official rules
        prediction = "" if refused else (result.get("short_answer") or answer)
        scores["em"], scores["f1"] = score_squad(prediction, item.answers)
    elif item.answerable:
        scores["em"], scores["f1"] = score_squad("" if refused else answer, [item.reference or answer])
    else:
        scores["em"] = scores["f1"] = float(refused)

    if not refused and citations:
        # A citation is its document and its quote: a quoted answer names the document it quotes.
        quotes = [
            f"{c['source']}: {' '.join(c['quote'].split())}" for c in sorted(citations, key=lambda c: c["marker"])
        ]
        verdicts, _ = verify_answer(answer, quotes, support_threshold)
        scores["grounding"] = sum(ok for _, _, ok in verdicts) / len(verdicts) if verdicts else 0.0
        supporting = {m for _, cited, ok in verdicts if ok for m in cited}
        gold = [is_gold(c, item, read_source) for c in citations]
        scores["citation_precision"] = sum(
            g or c["marker"] in supporting for g, c in zip(gold, citations, strict=True)
        ) / len(citations)
    if item.answerable:
        if item.gold_quotes and not item.gold_sources:
            covered = {i for c in citations for i in overlaps_gold(c, item.gold_quotes, read_source)}
            scores["citation_recall"] = 0.0 if refused else len(covered) / len(item.gold_quotes)
        else:
            scores["citation_recall"] = float(not refused and any(is_gold(c, item, read_source) for c in citations))
        hit = not refused and scores["citation_recall"] > 0
        scores["citation_hit"] = hit
        scores["fact_recall"] = 0.0 if refused else fact_recall(item.facts, answer)
        scores["polarity_contradicted"] = not refused and contradicts(answer, item.reference or "")
        scores["correct"] = (
            (not refused) and scores["fact_recall"] == 1.0 and hit and not scores["polarity_contradicted"]
        )
    else:
        scores["correct"] = refused
    return scores


def answered_right(row: dict) -> bool:
    """Whether a row's answer, if it is given, handles the question right: an answerable question answered
    correctly and cited (scored from a run that answered it), never an unanswerable one."""
    return bool(row["answerable"] and not row["refused"] and row["scores"]["correct"])


def operating_curve(rows: list[dict], thresholds) -> list[dict]:
    """For each confidence threshold, from rows of a run that answered every question: the share of questions
    handled right when only those at or above it are answered (the objective), and the risk–coverage pair:
    the share answered and how many of those answers are right."""
    curve = []
    for threshold in thresholds:
        answered = [r for r in rows if r["confidence"] >= threshold]
        right = sum(answered_right(r) for r in answered) + sum(
            not r["answerable"] for r in rows if r["confidence"] < threshold
        )
        curve.append(
            {
                "threshold": threshold,
                "handled_right": round(right / len(rows), 4) if rows else None,
                "coverage": round(len(answered) / len(rows), 4) if rows else None,
                "precision": round(sum(answered_right(r) for r in answered) / len(answered), 4) if answered else None,
            }
        )
    return curve


def best_operating_point(curve: list[dict]) -> dict:
    """The threshold that handles the most questions right; of equals, the one nearest the middle of its
    plateau (the lowest and highest that tie), so that it does not sit on an edge of the data."""
    best = max(c["handled_right"] for c in curve)
    tied = [c for c in curve if c["handled_right"] == best]
    middle = (tied[0]["threshold"] + tied[-1]["threshold"]) / 2
    return min(tied, key=lambda c: abs(c["threshold"] - middle))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.mean(values), 4) if values else None


def summarise(rows: list[dict]) -> dict:
    """The summary of a run: every metric the README defines, over the items scored so far."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def share(group, key):
        return round(sum(bool(r["scores"].get(key)) for r in group) / len(group), 4) if group else None

    def score(group, key):
        return _mean(r["scores"].get(key) for r in group)

    ranks = [r["scores"]["gold_rank"] for r in answerable]
    refused_rows = [r for r in rows if r["refused"]]
    summary = {
        "items": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "handled_right": share(rows, "correct"),
        "answerable_correct": share(answerable, "correct"),
        "unanswerable_refused": share(unanswerable, "correct"),
        "fact_recall": score(answerable, "fact_recall"),
        "citation_hit": share(answerable, "citation_hit"),
        "citation_precision": score(rows, "citation_precision"),
        "citation_recall": score(answerable, "citation_recall"),
        "grounding": score(rows, "grounding"),
        "semantic_similarity": score(answerable, "semantic_similarity"),
        "em": score(rows, "em"),
        "f1": score(rows, "f1"),
        "has_ans_em": score(answerable, "em"),
        "has_ans_f1": score(answerable, "f1"),
        "no_ans_accuracy": share(unanswerable, "correct"),
        "refusal_accuracy": share(rows, "refusal_correct"),
        "refusal_precision": (
            round(sum(not r["answerable"] for r in refused_rows) / len(refused_rows), 4) if refused_rows else None
        ),
        "refusal_recall": share(unanswerable, "refused"),
        "mrr": round(statistics.mean(1 / r if r else 0.0 for r in ranks), 4) if ranks else None,
        "answered_without_citation": sum(bool(r["scores"]["uncited_answer"]) for r in rows),
        "quotes_verified": share(rows, "quotes_verified"),
        "generated_share": round(sum(r.get("mode") in {"generated", "naive"} for r in rows) / len(rows), 4)
        if rows
        else None,
        "tokens_generated_mean": _mean(r.get("tokens_generated", 0) for r in rows),
    }
    for k in RETRIEVAL_KS:
        summary[f"hit@{k}"] = round(sum(bool(r and r <= k) for r in ranks) / len(ranks), 4) if ranks else None
    for part in ("retrieve_s", "generate_s", "total_s"):
        values = [r["timings"][part] for r in rows]
        summary[f"{part}_median"] = round(statistics.median(values), 4) if values else None
        summary[f"{part}_p95"] = round(percentile(values, 0.95), 4)
    latencies = [r["latency_s"] for r in rows]
    summary["latency_median_s"] = round(statistics.median(latencies), 4) if latencies else None
    summary["latency_p95_s"] = round(percentile(latencies, 0.95), 4)
    return summary


def question_kind(question: str) -> str:
    """What a question asks, for the breakdown: its question word ("who", "what", ...; "when" for "what
    year"), "gist" for a request for the gist, else "no question word" (yes or no, "name the ...")."""
    asked = Question.analyse(question)
    return "gist" if asked.asks_overview else asked.wh or "no question word"


def breakdown(rows: list[dict]) -> list[dict]:
    """Questions handled right by what they ask (`question_kind`) and by whether they follow up an earlier
    turn: where a run fails, beside the summary. Each group: its size, handled right, and answerable right
    and unanswerable refused with the size of each part (as `summarise` counts them)."""
    keys = ("items", "handled_right", "answerable", "answerable_correct", "unanswerable", "unanswerable_refused")

    def group(label: str, members: list[dict]) -> dict:
        summary = summarise(members)
        return {"group": label} | {k: summary[k] for k in keys}

    kinds: dict[str, list[dict]] = {}
    for row in rows:
        kinds.setdefault(question_kind(row["question"]), []).append(row)
    ordered = sorted(kinds.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    groups = [group(f"asks: {kind}", members) for kind, members in ordered]
    turns = [
        ("first question", [r for r in rows if not r.get("history")]),
        ("follow-up", [r for r in rows if r.get("history")]),
    ]
    return groups + [group(label, members) for label, members in turns if members]


# Metrics where lower is better (the rest: higher is better).
LOWER_IS_BETTER = {
    "answered_without_citation",
    "retrieve_s_median",
    "retrieve_s_p95",
    "generate_s_median",
    "generate_s_p95",
    "total_s_median",
    "total_s_p95",
    "latency_median_s",
    "latency_p95_s",
}


class SourceReader:
    """Reads cited sources once: files on disk, or the index's stored text for documents that are not files."""

    def __init__(self, stored_texts: dict[str, str] | None = None):
        self._cache: dict[str, str | None] = dict(stored_texts or {})

    def __call__(self, source: str) -> str | None:
        if source not in self._cache:
            try:
                self._cache[source] = Path(source).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                self._cache[source] = None
        return self._cache[source]


class Replay:
    """A question set's conversations as a user of the chat would have had them: an item's history (the earlier
    questions) is replayed with what this pipeline answered to each, the answer it gave when the set asked the
    same question with the same history (`record`), else asked then, so that a follow-up is judged with the
    answer its user saw."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self._said: dict[tuple[str, tuple[str, ...]], str] = {}

    def record(self, question: str, asked: list[str], answer: str) -> None:
        self._said[(question, tuple(asked))] = answer

    def history(self, asked: list[str]) -> list[dict]:
        turns: list[dict] = []
        for n, question in enumerate(asked):
            key = (question, tuple(asked[:n]))
            if key not in self._said:
                self._said[key] = self.pipeline.ask(question, history=turns).answer
            turns += [{"role": "user", "content": question}, {"role": "assistant", "content": self._said[key]}]
        return turns


def evaluate(
    pipelines: dict[str, Pipeline],
    items: list[QuestionItem],
    read_source: SourceReader,
    similarity: Callable[[str, str], float] | None,
    progress: bool,
    support_threshold: float,
) -> tuple[dict[str, list[dict]], bool]:
    """Ask every item of every pipeline; returns rows per pipeline and whether the run completed.
    Ctrl-C stops early and keeps what was scored."""
    from tqdm import tqdm

    rows: dict[str, list[dict]] = {name: [] for name in pipelines}
    replays = {name: Replay(pipeline) for name, pipeline in pipelines.items()}
    bar = tqdm(total=len(items) * len(pipelines), desc="evaluating", unit="q", disable=not progress, smoothing=0.1)
    complete = True
    try:
        for item in items:
            for name, pipeline in pipelines.items():
                history = replays[name].history(item.history)
                started = time.perf_counter()
                answer = pipeline.ask(item.question, history=history)
                latency = time.perf_counter() - started
                ranked = [
                    {"source": e.chunk.source, "start": e.chunk.start, "end": e.chunk.end}
                    for e in pipeline.rank(item.question, history, k=max(RETRIEVAL_KS))
                ]
                replays[name].record(item.question, item.history, answer.answer)
                result = answer.to_public()
                scores = score_item(item, result, ranked, read_source, support_threshold)
                if similarity is not None and item.answerable:
                    reference = item.reference or (item.answers[0] if item.answers else "")
                    scores["semantic_similarity"] = (
                        0.0 if answer.refused or not reference else round(similarity(answer.answer, reference), 4)
                    )
                rows[name].append(
                    {
                        "id": item.id,
                        "question": item.question,
                        "history": item.history,
                        "answerable": item.answerable,
                        "answer": answer.answer,
                        "short_answer": answer.short_answer,
                        "refused": answer.refused,
                        "mode": answer.mode,
                        "confidence": answer.confidence,
                        "citations": result["citations"],
                        "latency_s": round(latency, 4),
                        "timings": result["timings"],
                        "tokens_generated": answer.tokens_generated,
                        "scores": scores,
                    }
                )
                bar.update(1)
    except KeyboardInterrupt:
        complete = False
        # Keep only items every pipeline finished, so comparisons stay like for like.
        done = min(len(r) for r in rows.values())
        rows = {name: r[:done] for name, r in rows.items()}
    finally:
        bar.close()
    return rows, complete


def compare(summaries: dict[str, dict], primary: str, other: str) -> dict:
    """Each metric for both pipelines and their ratio (primary / other)."""
    table = {}
    for key, value in summaries[primary].items():
        theirs = summaries[other].get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(theirs, int | float):
            continue
        ratio = round(value / theirs, 3) if theirs else None
        table[key] = {primary: value, other: theirs, "ratio": ratio}
    return table


def format_summary(summary: dict) -> str:
    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f} %"

    lines = [
        f"items                {summary['items']} ({summary['answerable']} answerable, {summary['unanswerable']} not)",
        f"handled right        {pct(summary.get('handled_right'))}   (answerable: right and cited; unanswerable: refused)",
        f"answerable correct   {pct(summary['answerable_correct'])}   (all facts present and a gold passage cited)",
        f"unanswerable refused {pct(summary['unanswerable_refused'])}",
        f"fact recall          {pct(summary['fact_recall'])}",
        f"citation hit         {pct(summary['citation_hit'])}   precision {pct(summary['citation_precision'])}"
        f"   recall {pct(summary['citation_recall'])}",
        f"EM / F1              {pct(summary['em'])} / {pct(summary['f1'])}   HasAns F1 {pct(summary['has_ans_f1'])}"
        f"   NoAns acc {pct(summary['no_ans_accuracy'])}",
        f"retrieval            hit@1 {pct(summary['hit@1'])}  hit@5 {pct(summary['hit@5'])}  MRR {summary['mrr']}",
        f"grounding            {pct(summary['grounding'])}   semantic similarity {summary['semantic_similarity']}",
        f"answers citing none  {summary['answered_without_citation']}   quotes verified {pct(summary['quotes_verified'])}",
        f"model text kept      {pct(summary['generated_share'])}",
        f"latency median       {summary['latency_median_s']} s   p95 {summary['latency_p95_s']} s",
    ]
    if not summary.get("complete", True):
        lines.append("(interrupted: partial report)")
    return "\n".join(lines)
