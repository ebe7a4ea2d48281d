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
    best_operating_point,
    compare,
    evaluate,
    format_summary,
    load_questions,
    operating_curve,
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
        if args.split:
            items = [i for i in items if i.split == args.split]
            if not items:
                raise WorkbenchError(f"{args.questions} has no items in a {args.split!r} split")
        if args.limit:
            from workbench.squad import sample as pick

            items = pick(items, args.limit, args.seed)
        dataset = str(args.questions) + (f" ({args.split} split)" if args.split else "")
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
THRESHOLD_GRID = tuple(round(0.02 * i, 2) for i in range(51))


def split(items: list[QuestionItem]) -> tuple[list[QuestionItem], list[QuestionItem]]:
    """Tune on the set's dev split and report on its test split (the items' `split`); a set that is not split
    is halved by a hash of each id."""
    dev, test = [i for i in items if i.split == "dev"], [i for i in items if i.split == "test"]
    if dev and test:
        return dev, test

    def half(item):
        return int(hashlib.sha256(item.id.encode()).hexdigest(), 16) % 2

    return [i for i in items if half(i) == 0], [i for i in items if half(i) == 1]


def answer_everything(settings: Settings, items: list[QuestionItem], progress: bool) -> list[dict]:
    """Every item asked with no threshold (each question answered, with its confidence), and scored: the rows
    an operating point is chosen from."""
    from assistant.assistant import Assistant

    assistant = Assistant(settings.replace(refusal_threshold=0.0))
    if assistant.documents.is_empty():
        raise WorkbenchError("nothing is indexed yet; run `brief index` first")
    rows, _ = evaluate(
        {"brief": assistant},
        items,
        SourceReader(assistant.documents.texts()),
        None,
        progress,
        settings.grounding.support_threshold,
    )
    return rows["brief"]


def tune(args, settings: Settings, items: list[QuestionItem]) -> int:
    """Choose the confidence below which the assistant does not answer, by the product's objective: questions
    handled right (answerable: answered right and cited; unanswerable: not answered). Chosen on the dev half,
    reported on the other half with the risk–coverage curve (share answered, share of answers right), and
    written to the configuration file. The shipped threshold was chosen the same way on the brief's users' dev
    split (scripts/train/train_answerability.py); this adapts it to a collection and its questions of one's own."""
    tune_items, held_out = split(items)
    if not tune_items or not held_out:
        raise WorkbenchError("tuning needs at least two items")
    rows = answer_everything(settings, tune_items + held_out, not args.quiet)
    tune_ids = {i.id for i in tune_items}
    tuned = operating_curve([r for r in rows if r["id"] in tune_ids], THRESHOLD_GRID)
    reported = operating_curve([r for r in rows if r["id"] not in tune_ids], THRESHOLD_GRID)
    best = best_operating_point(tuned)
    print(f"tuned on {len(tune_items)} items, reported on {len(held_out)} held-out items")
    print("threshold | tune: handled right  answered  precision | held-out: handled right  answered  precision")
    for t, h in zip(tuned, reported, strict=True):
        mark = " <- chosen" if t is best else ""
        print(
            f"{t['threshold']:<9} | {t['handled_right']:>19.3f} {t['coverage']:>9.3f} {t['precision'] or 0:>10.3f} | "
            f"{h['handled_right']:>23.3f} {h['coverage']:>9.3f} {h['precision'] or 0:>10.3f}{mark}"
        )
    config = Path(args.config or "brief.toml")
    write_toml_values(config, {"refusal_threshold": best["threshold"]})
    args.out.mkdir(parents=True, exist_ok=True)
    curve = {"chosen": best, "tune": tuned, "held_out": reported}
    (args.out / "tune.json").write_text(json.dumps(curve, indent=2), encoding="utf-8")
    print(f"wrote refusal_threshold={best['threshold']} to {config}; curve in {args.out / 'tune.json'}")
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
