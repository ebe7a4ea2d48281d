"""`brief eval`: the evaluation workbench. Loads a question set (JSONL or SQuAD 2.0), runs one pipeline or two
side by side, writes the reports, diffs two reports, tunes the refusal thresholds on a split, and gates CI."""

from __future__ import annotations

import datetime
import hashlib
import json
import tomllib
from pathlib import Path

from kernel.settings import Settings
from workbench.evaluation import (
    QuestionItem,
    SourceReader,
    compare,
    evaluate,
    format_summary,
    load_questions,
    summarise,
)
from workbench.reports import diff_reports, write_reports
from workbench.squad import load_squad, sample

PIPELINES = ("brief", "naive", "api", "openai")  # api/openai: a running `brief serve` at --url


class WorkbenchError(ValueError):
    """Bad input to `brief eval`; the message is for the user (exit code 2)."""


def squad_items(path: Path, settings: Settings, limit: int | None, seed: int, progress: bool):
    """Index the file's paragraphs into a collection of their own and return (settings, items)."""
    from index.documents import DocumentService

    documents, questions = load_squad(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    squad_settings = settings.replace(collection=f"squad-{digest}")
    report = DocumentService.open(squad_settings).index_texts(documents, progress=progress)
    if report.errors:
        raise WorkbenchError("; ".join(report.errors))
    items = [
        QuestionItem(
            id=q.id,
            question=q.question,
            answerable=q.answerable,
            reference=q.answers[0] if q.answers else "",
            answers=q.answers,
            gold_sources=[q.paragraph],
        )
        for q in sample(questions, limit, seed)
    ]
    return squad_settings, items


def build_pipelines(settings: Settings, names: list[str], url: str | None = None, api_key: str | None = None):
    from assistant.assistant import Assistant
    from assistant.remote import ApiClient, OpenAIClient
    from workbench.naive import NaivePipeline

    assistant = Assistant(settings)
    if assistant.documents.is_empty():
        raise WorkbenchError("nothing is indexed yet; run `brief index` first")
    assistant.warm_up()
    pipelines = {}
    for name in names:
        if name == "brief":
            pipelines[name] = assistant
        elif name == "naive":
            naive = NaivePipeline(settings, assistant.store, assistant.embeddings, assistant.chat_model)
            naive.build()
            pipelines[name] = naive
        else:
            # A running server's answers, with retrieval ranked by the local index (the same documents), so its
            # retrieval metrics stay comparable and its answers are scored as the library's are.
            pipelines[name] = (ApiClient if name == "api" else OpenAIClient)(url, api_key, ranker=assistant)
    return assistant, pipelines


def cosine_similarity(embeddings):
    import numpy as np

    def similarity(a: str, b: str) -> float:
        va, vb = embeddings.embed_documents([a, b])
        return float(np.dot(va, vb))

    return similarity


def run(args, settings: Settings) -> int:
    if args.diff:
        old, new = (json.loads(Path(p).read_text(encoding="utf-8")) for p in args.diff)
        print(diff_reports(old, new))
        return 0
    if args.pipeline not in PIPELINES or (args.compare and args.compare not in PIPELINES):
        raise WorkbenchError(f"unknown pipeline; choose from {', '.join(PIPELINES)}")
    if {args.pipeline, args.compare} & {"api", "openai"} and not args.url:
        raise WorkbenchError("the api and openai pipelines ask a running `brief serve`: give its --url")
    if args.squad:
        settings, items = squad_items(args.squad, settings, args.limit, args.seed, not args.quiet)
        dataset = f"SQuAD 2.0: {args.squad.name}" + (
            f" (sample of {len(items)}, seed {args.seed})" if args.limit else ""
        )
    else:
        items = load_questions(args.questions)
        if args.limit:
            from workbench.squad import sample as pick

            items = pick(items, args.limit, args.seed)
        dataset = str(args.questions)
    if args.tune:
        return tune(args, settings, items)

    names = [args.pipeline] + ([args.compare] if args.compare and args.compare != args.pipeline else [])
    assistant, pipelines = build_pipelines(settings, names, args.url, args.api_key)
    reader = SourceReader(assistant.documents.texts())
    rows, complete = evaluate(
        pipelines,
        items,
        reader,
        cosine_similarity(assistant.embeddings),
        not args.quiet,
        settings.grounding.support_threshold,
    )
    runs = {name: {"summary": summarise(r) | {"complete": complete}, "items": r} for name, r in rows.items()}
    primary = names[0]
    report = {
        "dataset": dataset,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "complete": complete,
        "summary": runs[primary]["summary"],
        "items": runs[primary]["items"],
        "pipelines": runs,
    }
    if len(names) == 2:
        report["comparison"] = compare({n: runs[n]["summary"] for n in names}, names[0], names[1])
    paths = write_reports(report, args.out)
    for name in names:
        print(f"== {name} ==")
        print(format_summary(runs[name]["summary"]))
    print("reports: " + ", ".join(str(p) for p in paths))
    if not complete:
        return 130
    if args.gate:
        return gate(runs[primary]["summary"], args.gate, "squad" if args.squad else args.questions.stem)
    return 0


def gate(summary: dict, path: Path, section: str) -> int:
    """Fail (exit 1) when a metric falls below its minimum (or above its maximum) in the thresholds file's table
    for this run: `[squad]` for a SQuAD file, else the question set's name (`[brief]` for questions/brief.jsonl)."""
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WorkbenchError(f"{path}: cannot read thresholds: {exc}") from exc
    if section not in tables:
        raise WorkbenchError(f"{path} has no thresholds for this run: add a [{section}.min] or [{section}.max] table")
    limits = tables[section]
    failures = []
    for key, bound in limits.get("min", {}).items():
        if summary.get(key) is None or summary[key] < bound:
            failures.append(f"{key} = {summary.get(key)} < {bound}")
    for key, bound in limits.get("max", {}).items():
        if summary.get(key) is None or summary[key] > bound:
            failures.append(f"{key} = {summary.get(key)} > {bound}")
    if failures:
        print("gate FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"gate passed ({len(limits.get('min', {})) + len(limits.get('max', {}))} thresholds from {path} [{section}])")
    return 0


# Threshold tuning ---------------------------------------------------------------------------------------
REFUSAL_THRESHOLD_GRID = tuple(round(0.05 * i, 2) for i in range(2, 19))


def split(items: list[QuestionItem]) -> tuple[list[QuestionItem], list[QuestionItem]]:
    """A fixed half/half split by a hash of each id: tune on one half, report on the other."""

    def half(item):
        return int(hashlib.sha256(item.id.encode()).hexdigest(), 16) % 2

    return [i for i in items if half(i) == 0], [i for i in items if half(i) == 1]


def refusal_rates(assistant, cached: list[tuple[QuestionItem, list, list]]) -> dict:
    answered_ok = refused_ok = n_ans = n_unans = 0
    for item, turns, candidates in cached:
        refused = assistant.refusal.decide(item.question, turns, candidates).refused
        if item.answerable:
            n_ans += 1
            answered_ok += not refused
        else:
            n_unans += 1
            refused_ok += refused
    answered = answered_ok / n_ans if n_ans else 1.0
    refused = refused_ok / n_unans if n_unans else 1.0
    return {
        "answerable_answered": round(answered, 4),
        "unanswerable_refused": round(refused, 4),
        "balanced_accuracy": round((answered + refused) / 2, 4),
    }


def tune(args, settings: Settings, items: list[QuestionItem]) -> int:
    """Search the answerability model's refusal threshold on one half of the items (refusal decisions only,
    no generation), report the trade-off on both halves, and write the best threshold to the configuration
    file. The shipped threshold was chosen on the training articles (scripts/train/train_answerability.py); this
    adapts it to a collection of one's own."""
    from assistant.assistant import Assistant, normalise_history, retrieval_queries

    tune_items, held_out = split(items)
    if not tune_items or not held_out:
        raise WorkbenchError("tuning needs at least two items")
    assistant = Assistant(settings)
    if assistant.documents.is_empty():
        raise WorkbenchError("nothing is indexed yet; run `brief index` first")

    def cache(group):
        out = []
        for item in group:
            turns = normalise_history([{"role": "user", "content": h} for h in item.history])
            candidates = assistant.retriever.retrieve(
                retrieval_queries(item.question, turns), k=settings.retrieval.coverage_k
            )
            out.append((item, turns, candidates))
        return out

    tune_cache, held_cache = cache(tune_items), cache(held_out)
    curve = []
    for threshold in REFUSAL_THRESHOLD_GRID:
        assistant.settings = settings.replace(refusal_threshold=threshold)
        curve.append(
            {"refusal_threshold": threshold}
            | {"tune": refusal_rates(assistant, tune_cache), "held_out": refusal_rates(assistant, held_cache)}
        )
    best = max(curve, key=lambda c: (c["tune"]["balanced_accuracy"], -abs(c["refusal_threshold"] - 0.5)))
    print(f"tuned on {len(tune_items)} items, reported on {len(held_out)} held-out items")
    print("threshold | tune: answered refused | held-out: answered refused")
    for c in curve:
        mark = " <- chosen" if c is best else ""
        t, h = c["tune"], c["held_out"]
        print(
            f"{c['refusal_threshold']:<9} | {t['answerable_answered']:>14.3f} {t['unanswerable_refused']:>7.3f} | "
            f"{h['answerable_answered']:>18.3f} {h['unanswerable_refused']:>7.3f}{mark}"
        )
    config = Path(args.config or "brief.toml")
    chosen = {"refusal_threshold": best["refusal_threshold"]}
    write_toml_values(config, chosen)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tune.json").write_text(json.dumps({"chosen": best, "curve": curve}, indent=2), encoding="utf-8")
    print(f"wrote refusal_threshold={best['refusal_threshold']} to {config}; curve in {args.out / 'tune.json'}")
    return 0


def write_toml_values(path: Path, values: dict) -> None:
    """Set top-level scalar keys in a TOML file, keeping its other settings."""
    current = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    current.update(values)
    lines = []
    for key, value in current.items():
        if isinstance(value, dict):
            raise WorkbenchError(f"{path}: tables are not supported in the configuration file")
        lines.append(
            f"{key} = {json.dumps(value) if isinstance(value, str) else repr(value).lower() if isinstance(value, bool) else value}"
        )
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
