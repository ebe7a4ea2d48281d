"""The web chat: a thin Gradio shell over `Assistant`.

Per-browser-session state (the conversation, the answers that feedback refers to) lives in gr.State, never in
module globals, so concurrent sessions cannot see each other's history. Every event that touches the models or
the index runs in one concurrency group ("assistant"), so the in-process model is used by one request at a time.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from assistant.core import QuestionError  # noqa: E402
from ui.render import (  # noqa: E402
    chat_text,
    documents_html,
    retrieved_html,
    source_texts,
    sources_html,
)

EXIT_USAGE = 2
AUTH_USER = "brief"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_TYPES = [".txt", ".md", ".pdf", ".html"]
GROUP = "assistant"
STARTERS = [
    "Which critical minerals does Mali hold reserves of?",
    "Why is the United States re-engaging with Mali?",
    "Which country has Mali shifted its security partnerships towards?",
    "Why does Mali matter for U.S. counterterrorism?",
]
SEEDS = Path("seeds")
REPO_SEEDS = Path(__file__).resolve().parent.parent / "seeds"

_feedback_lock = threading.Lock()


class UploadProblem(ValueError):
    """An upload that is refused; the message is for the user."""


# Helpers ----------------------------------------------------------------------------------------------
def safe_filename(name: str) -> str:
    """The basename with only [A-Za-z0-9._-] kept, no leading dots, at most 100 characters."""
    base = os.path.basename(str(name).replace("\\", "/"))
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:90] or "document"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", suffix).lower()
    return f"{stem}.{suffix}" if suffix else stem


def parse_history(history) -> list[dict]:
    """History for the API: a JSON string or a list of {role, content}; empty if None/''."""
    if history is None or history == "":
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except json.JSONDecodeError as exc:
            raise gr.Error(f"history is not valid JSON: {exc}") from exc
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and t.get("role") in {"user", "assistant"} and isinstance(t.get("content"), str)
        for t in history
    ):
        raise gr.Error('history must be a list of {"role": "user"|"assistant", "content": str}')
    return [{"role": t["role"], "content": t["content"]} for t in history]


def append_feedback(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False)
    with _feedback_lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# The app ----------------------------------------------------------------------------------------------
def build_app(assistant) -> gr.Blocks:
    settings = assistant.settings

    def document_choices() -> list[tuple[str, str]]:
        return sorted(((e.source, path) for path, e in assistant.store.documents().items()), key=lambda c: c[0])

    def documents_view():
        entries = list(assistant.store.documents().values())
        return documents_html(entries), gr.update(choices=document_choices(), value=None)

    # Chat -----------------------------------------------------------------------------------------
    def respond(message: str, chat: list, turns: list, records: dict) -> Iterator[tuple]:
        chat = list(chat or [])
        turns = list(turns or [])
        records = dict(records or {})
        question = (message or "").strip()
        stream = assistant.ask_stream(question, history=turns)
        try:
            first = next(stream)
        except QuestionError as exc:
            gr.Warning(f"Cannot ask that: {exc}")
            yield chat, gr.skip(), gr.skip(), turns, records, message
            return
        chat.append({"role": "user", "content": chat_text(question)})
        chat.append({"role": "assistant", "content": ""})
        streamed = ""
        answer = None
        for event, value in _chain(first, stream):
            if event == "token":
                streamed += value
                chat[-1] = {"role": "assistant", "content": chat_text(streamed)}
                yield chat, gr.skip(), gr.skip(), turns, records, ""
            elif event == "answer":
                answer = value
        chat[-1] = {"role": "assistant", "content": chat_text(answer.answer)}
        turns = [*turns, {"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]
        public = answer.to_public()
        records[str(len(chat) - 1)] = {
            "question": question,
            "answer": answer.answer,
            "citations": public["citations"],
            "refused": answer.refused,
        }
        texts = source_texts(assistant.store)
        yield chat, sources_html(answer, texts, question), retrieved_html(answer), turns, records, ""

    def new_chat():
        return [], sources_html(None, {}), retrieved_html(None), [], {}, ""

    def on_like(records: dict, data: gr.LikeData):
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        record = (records or {}).get(str(index))
        if record is None:
            return
        vote = {True: "up", False: "down"}.get(data.liked, str(data.liked) if data.liked else "none")
        append_feedback(
            settings.feedback_file,
            {
                "question": record["question"],
                "answer": record["answer"],
                "citations": record["citations"],
                "vote": vote,
                "timestamp": time.time(),
            },
        )
        gr.Info("Thanks for the feedback.")

    # Documents ------------------------------------------------------------------------------------
    def on_upload(file_path, progress=gr.Progress()):  # noqa: B008 (Gradio's way to ask for a progress bar)
        from index.loaders import LoadError, load_document
        from index.pipeline import index_paths

        if not file_path:
            return "No file.", *documents_view(), None
        try:
            progress(0.05, desc="Checking the file")
            original = Path(file_path)
            name = safe_filename(original.name)
            suffix = Path(name).suffix.lower()
            if suffix not in UPLOAD_TYPES:
                raise UploadProblem(
                    f"{original.name}: unsupported file type '{suffix or '(none)'}'; use {' '.join(UPLOAD_TYPES)}"
                )
            size = original.stat().st_size
            if size > MAX_UPLOAD_BYTES:
                raise UploadProblem(
                    f"{original.name} is {size / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
                )
            data = original.read_bytes()
            try:
                load_document(Path(name), data=data)
            except LoadError as exc:
                raise UploadProblem(str(exc)) from exc
            progress(0.25, desc="Saving")
            settings.uploads_dir.mkdir(parents=True, exist_ok=True)
            dest = settings.uploads_dir / name
            previous = dest.read_bytes() if dest.exists() else None
            tmp = dest.with_name(f".{name}.part")
            tmp.write_bytes(data)
            os.replace(tmp, dest)
            progress(0.4, desc="Indexing (embedding sentences)")
            report = index_paths([dest], settings, progress=False, store=assistant.store)
            if report.errors:
                if previous is None:
                    dest.unlink(missing_ok=True)
                else:
                    dest.write_bytes(previous)
                raise UploadProblem("; ".join(report.errors))
            progress(1.0, desc="Done")
            if report.unchanged:
                status = f"{name} is already indexed (unchanged)."
            else:
                n = assistant.store.documents().get(str(dest.resolve()))
                status = f"Indexed {name}" + (f": {n.n_chunks} sentences." if n else ".")
            gr.Info(status)
        except UploadProblem as exc:
            gr.Warning(f"Upload refused: {exc}")
            status = f"Upload refused: {exc}"
        return status, *documents_view(), None

    def on_remove(path: str | None):
        if not path:
            return "Choose a document to remove.", *documents_view()
        entry = assistant.store.documents().get(path)
        assistant.store.remove_document(path)
        uploads = settings.uploads_dir.resolve()
        if Path(path).is_relative_to(uploads):
            Path(path).unlink(missing_ok=True)
        name = entry.source if entry else path
        return f"Removed {name} from the index.", *documents_view()

    # API ------------------------------------------------------------------------------------------
    def ask(question: str, history: str | None = None) -> dict:
        """Answer one question with verified citations; history is a JSON list of {role, content} turns."""
        try:
            return assistant.ask(question, history=parse_history(history)).to_public()
        except QuestionError as exc:
            raise gr.Error(f"Cannot ask that: {exc}") from exc

    def ask_stream(question: str, history: str | None = None) -> Iterator[str]:
        """Stream the answer text as it is written; the last value is the final (verified) answer."""
        streamed = ""
        try:
            for event, value in assistant.ask_stream(question, history=parse_history(history)):
                if event == "token":
                    streamed += value
                    yield streamed
                else:
                    yield value.answer
        except QuestionError as exc:
            raise gr.Error(f"Cannot ask that: {exc}") from exc

    # Layout ---------------------------------------------------------------------------------------
    with gr.Blocks(title="brief: ask the policy brief") as demo:
        turns = gr.State([])
        records = gr.State({})
        gr.Markdown(
            "## Ask the policy brief\nAnswers quote the brief sentence by sentence; every claim is cited. "
            "Questions the documents do not cover are declined."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="chat",
                    height=460,
                    buttons=["copy"],
                    sanitize_html=True,
                    render_markdown=False,
                    allow_tags=False,
                    feedback_options=("Like", "Dislike"),
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Ask about the brief…",
                        show_label=False,
                        scale=5,
                        elem_id="question",
                        max_length=settings.max_question_chars,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    starters = [gr.Button(q, size="sm", elem_classes=["starter"]) for q in STARTERS]
                clear = gr.Button("New chat", size="sm", elem_id="new-chat")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html(None, {}), elem_id="sources", js_on_load=None)
                with gr.Accordion("Everything retrieved (with scores)", open=False):
                    retrieved = gr.HTML(retrieved_html(None), elem_id="retrieved", js_on_load=None)
        with gr.Accordion("Documents", open=False, elem_id="documents-panel"):
            gr.Markdown(
                f"Add a document ({' '.join(UPLOAD_TYPES)}, up to {MAX_UPLOAD_BYTES // (1024 * 1024)} MB). "
                "It is checked before anything is saved, then indexed."
            )
            upload = gr.File(label="Upload", file_types=UPLOAD_TYPES, type="filepath", elem_id="upload")
            upload_status = gr.Textbox(label="Status", interactive=False, elem_id="upload-status")
            docs = gr.HTML(elem_id="documents", js_on_load=None)
            with gr.Row():
                doc_choice = gr.Dropdown(label="Document", choices=[], scale=4)
                remove = gr.Button("Remove from index", variant="stop", scale=1)

        chat_outputs = [chatbot, sources, retrieved, turns, records, question]
        common = {"concurrency_id": GROUP, "concurrency_limit": 1}
        send.click(respond, [question, chatbot, turns, records], chat_outputs, api_visibility="private", **common)
        question.submit(respond, [question, chatbot, turns, records], chat_outputs, api_visibility="private", **common)
        for button, text in zip(starters, STARTERS, strict=True):

            def starter(chat, turns_, records_, _text=text):
                yield from respond(_text, chat, turns_, records_)

            button.click(starter, [chatbot, turns, records], chat_outputs, api_visibility="private", **common)
        clear.click(new_chat, None, chat_outputs, api_visibility="private")
        chatbot.clear(new_chat, None, chat_outputs, api_visibility="private")
        chatbot.like(on_like, [records], None, api_visibility="private")
        upload.upload(
            on_upload,
            [upload],
            [upload_status, docs, doc_choice, upload],
            api_visibility="private",
            show_progress="full",
            **common,
        )
        remove.click(on_remove, [doc_choice], [upload_status, docs, doc_choice], api_visibility="private", **common)
        demo.load(documents_view, None, [docs, doc_choice], api_visibility="private")
        gr.api(ask, api_name="ask", **common)
        gr.api(ask_stream, api_name="ask_stream", **common)
    demo.queue(default_concurrency_limit=1)
    return demo


def _chain(first, rest):
    yield first
    yield from rest


# Serving ----------------------------------------------------------------------------------------------
def ensure_indexed(assistant) -> None:
    """Index seeds/ when the store is empty."""
    if assistant.store.count() > 0:
        return
    from index.pipeline import index_paths

    seeds = SEEDS if SEEDS.is_dir() else REPO_SEEDS
    print(f"brief: nothing indexed yet; indexing {seeds}/ …", file=sys.stderr)
    report = index_paths([seeds], assistant.settings, progress=False, store=assistant.store)
    for error in report.errors:
        print(f"brief: error: {error}", file=sys.stderr)
    print(f"brief: {report.summary()}", file=sys.stderr)


def serve(settings, host: str = "127.0.0.1", port: int = 7860, password: str | None = None) -> int:
    from assistant.core import Assistant

    if not is_loopback(host) and not password:
        print(
            f"brief: error: serving on {host} makes the chat reachable from other machines; "
            "set a password with --password (user 'brief') or use --host 127.0.0.1",
            file=sys.stderr,
        )
        return EXIT_USAGE
    assistant = Assistant(settings)
    ensure_indexed(assistant)
    assistant.warm_up()
    demo = build_app(assistant)
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            auth=(AUTH_USER, password) if password else None,
            auth_message="User name: brief" if password else None,
            ssr_mode=False,
            show_error=True,
            max_file_size="10mb",
            quiet=False,
        )
    except OSError as exc:
        print(f"brief: error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
