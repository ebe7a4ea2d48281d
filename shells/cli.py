"""`brief` command line: index, ask, eval, serve. Each subcommand is a thin shell over the document service
(`index.documents`), `Assistant` and the evaluation workbench."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_USAGE = 2
DEFAULT_SEEDS = Path("seeds")
DEFAULT_QUESTIONS = Path("questions/brief.jsonl")


def fail(message: str, code: int = 1) -> int:
    print(f"brief: error: {message}", file=sys.stderr)
    return code


def cmd_index(args, settings) -> int:
    from index.documents import DocumentService
    from index.pipeline import REPAIR_NOTICE

    paths = args.paths or [DEFAULT_SEEDS]
    if args.max_bytes is not None:
        settings = settings.replace(max_document_bytes=args.max_bytes)
    documents = DocumentService.open(settings, verify=not args.rebuild)
    repaired = documents.recover()
    if repaired is not None:
        print(f"brief: warning: {REPAIR_NOTICE.format(repaired.summary())}", file=sys.stderr)
    report = documents.index(paths, rebuild=args.rebuild, progress=not args.quiet)
    for warning in report.warnings:
        print(f"brief: warning: {warning}", file=sys.stderr)
    for error in report.errors:
        print(f"brief: error: {error}", file=sys.stderr)
    print(report.summary())
    return 1 if report.errors else 0


def _read_history(path: str | None, settings) -> list[dict]:
    """The --history file's turns, within the limits every door applies; ValueError names the file."""
    if not path:
        return []
    from pydantic import TypeAdapter, ValidationError

    from assistant.answers import Turn
    from assistant.assistant import QuestionError, validate_history

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        turns = TypeAdapter(list[Turn]).validate_python(data)
        return [t.model_dump() for t in validate_history(turns, settings)]
    except OSError as exc:
        raise ValueError(f"cannot read history file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"history file {path} is not UTF-8 text (a binary file?): {exc.reason}") from exc
    except RecursionError as exc:  # '[[[[…' deeper than the JSON parser goes
        raise ValueError(f"history file {path} is nested too deeply to be a JSON list of turns") from exc
    except (json.JSONDecodeError, ValidationError) as exc:
        raise ValueError(
            f'history file {path} must be a JSON list of {{"role": "user"|"assistant", "content": str}}: '
            f"{str(exc).splitlines()[0]}"
        ) from exc
    except QuestionError as exc:
        raise ValueError(f"history file {path}: {exc}") from exc


def running_server_answer(settings, question: str, history: list[dict]):
    """The answer of a `brief serve` running over this data dir (the file `shells.server.announce` writes),
    asked with the secret in BRIEF_API_KEY or BRIEF_PASSWORD; None when there is none, the file is stale, the
    server serves another index, is not ready yet or refuses: then the question is answered in this process."""
    from shells.server import serve_file

    try:
        record = json.loads(serve_file(settings).read_text(encoding="utf-8"))
        url, pid = str(record["url"]), int(record["pid"])
        os.kill(pid, 0)  # raises when the server that wrote it is gone (killed with -9): a stale file
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if record.get("collection") != settings.store.collection or record.get("chroma_url") != settings.store.chroma_url:
        return None
    from assistant.remote import ApiClient, RemoteError

    secret = os.environ.get("BRIEF_API_KEY") or os.environ.get("BRIEF_PASSWORD") or None
    try:
        return ApiClient(url, api_key=secret).ask(question, history)
    except (RemoteError, ValueError):
        return None


def cmd_ask(args, settings) -> int:
    from assistant.assistant import validate_question

    try:
        question = validate_question(args.question, settings)
        history = _read_history(args.history, settings)
    except ValueError as exc:  # QuestionError included
        return fail(str(exc), EXIT_USAGE)
    answer = running_server_answer(settings, question, history)
    if answer is None:
        from assistant.assistant import Assistant

        assistant = Assistant(settings)
        if assistant.documents.is_empty():
            return fail("nothing is indexed yet; run `brief index` first")
        answer = assistant.ask(question, history=history)
    if args.json:
        print(json.dumps(answer.to_public(), ensure_ascii=False, indent=2))
        return 0
    print(answer.answer)
    for c in answer.citations:
        print(
            f'  [{c.marker}] {c.source}:{c.start}-{c.end} ({c.section or "no section"}) "{" ".join(c.quote.split())}"'
        )
    return 0


def cmd_eval(args, settings) -> int:
    from assistant.remote import RemoteError
    from workbench.evaluation import QuestionSetError
    from workbench.squad import SquadError
    from workbench.workbench import WorkbenchError, run

    try:
        return run(args, settings)
    except (QuestionSetError, SquadError, WorkbenchError, OSError, json.JSONDecodeError) as exc:
        return fail(str(exc), EXIT_USAGE)
    except RemoteError as exc:
        return fail(str(exc))


def cmd_serve(args, settings) -> int:
    from shells.server import serve

    api_key = args.api_key or os.environ.get("BRIEF_API_KEY") or None
    password = args.password or os.environ.get("BRIEF_PASSWORD") or None
    return serve(settings, host=args.host, port=args.port, password=password, api_key=api_key)


def byte_count(value: str) -> int:
    """A size such as 60000000, 500K, 60M or 1G (powers of 1024)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    scale = units.get(text[-1:], 1)
    try:
        number = float(text[:-1] if scale > 1 else text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a size (e.g. 60000000, 500K, 60M)") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"'{value}' must be at least 1 byte")
    return int(number * scale)


def version() -> str:
    """The installed distribution's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("brief")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brief", description="Cited answers over a policy brief.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--config", help="TOML configuration file (default: ./brief.toml if present)")
    parser.add_argument("--data-dir", help="where the index lives (default .brief)")
    parser.add_argument(
        "--profile",
        help="default, or quality: the larger local model installed by scripts/setup --model NAME (or BRIEF_PROFILE)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index documents (.txt .md .pdf .html); incremental")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: seeds/)")
    p.add_argument("--rebuild", action="store_true", help="drop the index and build it again")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--max-bytes",
        type=byte_count,
        metavar="N",
        help="largest file to index, e.g. 60000000 or 60M (default: max_document_bytes, 10 MiB)",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question with citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--history", help="JSON file with earlier turns [{role, content}, ...]")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score a question set; write report.json, report.md, report.html")
    p.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help="JSONL question set")
    p.add_argument("--squad", type=Path, help="a SQuAD 2.0 JSON file instead (indexed into its own collection)")
    p.add_argument("--limit", type=int, help="a fixed random sample of N items")
    p.add_argument("--seed", type=int, default=0, help="seed for --limit")
    p.add_argument(
        "--pipeline",
        default="brief",
        help="brief (default), naive (the LangChain tutorial recipe), or api / openai (a running server at --url)",
    )
    p.add_argument("--compare", help="also run this pipeline on the same items and report both and their ratio")
    p.add_argument("--url", help="base URL of a running `brief serve`, for the api and openai pipelines")
    p.add_argument("--api-key", default=os.environ.get("BRIEF_API_KEY"), help="its API key (or BRIEF_API_KEY)")
    p.add_argument("--out", type=Path, default=Path("eval-out"))
    p.add_argument("--diff", nargs=2, type=Path, metavar=("OLD", "NEW"), help="show what changed between reports")
    p.add_argument("--split", choices=("dev", "test"), help="only the items of this split of a split question set")
    p.add_argument(
        "--tune",
        action="store_true",
        help="choose the confidence threshold by questions handled right on the dev split (else half the items); "
        "report the other part and write the threshold to the config",
    )
    p.add_argument("--gate", type=Path, help="TOML of metric thresholds; exit 1 if the run falls below them")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="start the web chat and the HTTP API (docs at /docs)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument(
        "--api-key",
        help="a secret every route but /healthz and /readyz needs (or set BRIEF_API_KEY); /api and /v1 "
        "take it as 'Authorization: Bearer KEY', the web chat's login as the password of user 'brief'",
    )
    p.add_argument("--password", help="the same for a password (or set BRIEF_PASSWORD); either secret opens every door")
    p.set_defaults(func=cmd_serve)
    return parser


def is_model_or_store_error(exc: Exception) -> bool:
    """Imported only once something failed: `brief ask` answered by a running server loads neither module."""
    from assistant.llm import ModelError
    from index.store import StoreError

    return isinstance(exc, ModelError | StoreError)


def undecodable_argument(argv: list[str]) -> str | None:
    """The message for the first argument that is not UTF-8 text, or None. Python hands over such bytes as lone
    surrogates (surrogateescape), which neither the model nor the index can take: a question or a path must be
    UTF-8."""
    for n, arg in enumerate(argv, start=1):
        if any("\ud800" <= c <= "\udfff" for c in arg):
            shown = repr(arg.encode("utf-8", "surrogateescape" if _escaped_bytes(arg) else "backslashreplace"))
            return f"argument {n} is not UTF-8 text: {shown}; questions and paths must be UTF-8"
    return None


def _escaped_bytes(arg: str) -> bool:
    return all(not "\ud800" <= c <= "\udfff" or "\udc80" <= c <= "\udcff" for c in arg)


def main(argv: list[str] | None = None) -> int:
    from kernel.settings import ConfigError, load_settings

    argv = sys.argv[1:] if argv is None else argv
    if (message := undecodable_argument(argv)) is not None:
        return fail(message, EXIT_USAGE)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, data_dir=args.data_dir, profile=args.profile)
        return args.func(args, settings)
    except ConfigError as exc:
        return fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as exc:
        if is_model_or_store_error(exc):
            return fail(str(exc))
        raise


if __name__ == "__main__":
    sys.exit(main())
