"""The web chat: a thin Gradio shell over `Assistant`.

Per-browser-session state (the conversation, the answers that feedback refers to) lives in gr.State, never in
module globals, so concurrent sessions cannot see each other's history. Every event that touches the models or
the index runs in one concurrency group ("assistant"), so the in-process model is used by one request at a time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from assistant.assistant import QuestionError, validate_question  # noqa: E402
from assistant.pipeline import Final, Token  # noqa: E402
from index.documents import UPLOAD_SUFFIXES, UploadRefused, document_id  # noqa: E402
from ui.render import (  # noqa: E402
    chat_text,
    documents_html,
    retrieved_html,
    sources_html,
)

GROUP = "assistant"
STARTERS = [
    "Which critical minerals does Mali hold reserves of?",
    "Why is the United States re-engaging with Mali?",
    "Which country has Mali shifted its security partnerships towards?",
    "Why does Mali matter for U.S. counterterrorism?",
]

# A redraw per token costs the browser more CPU than the model can spare on a 2-core laptop; ~10 a second reads
# as smooth.
REDRAW_EVERY_S = 0.1
_feedback_lock = threading.Lock()
log = logging.getLogger("brief.ui")


# Helpers ----------------------------------------------------------------------------------------------
def parse_history(history) -> list[dict]:
    """History for the API: a JSON string or a list of {role, content}; empty if None/''."""
    if history is None or history == "":
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except json.JSONDecodeError as exc:
            raise gr.Error(f"history is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise gr.Error("history is nested too deeply to be a list of turns") from exc
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and t.get("role") in {"user", "assistant"} and isinstance(t.get("content"), str)
        for t in history
    ):
        raise gr.Error('history must be a list of {"role": "user"|"assistant", "content": str}')
    return [{"role": t["role"], "content": t["content"]} for t in history]


def failure_message(exc: Exception, doing: str) -> str:
    """The one plain message the chat shows for a failure that is not the user's to mend; what happened, with
    its traceback, goes to the server log (never to the page: it may name the server's files)."""
    from assistant.llm import ModelError
    from index.store import StoreError

    log.error("web chat: %s failed", doing, exc_info=exc)
    if isinstance(exc, ModelError):
        return f"The model could not be used for {doing}; try again shortly (the server log says why)."
    if isinstance(exc, StoreError):
        return f"The documents could not be read for {doing}; try again shortly (the server log says why)."
    return f"Something went wrong on the server while {doing}; its log has the details."


def append_feedback(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False)
    with _feedback_lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


# The app ----------------------------------------------------------------------------------------------
def build_app(assistant) -> gr.Blocks:
    settings = assistant.settings
    documents = assistant.documents

    def documents_view():
        try:
            entries = documents.entries()
        except Exception as exc:  # noqa: BLE001 (one plain message; the log has the rest)
            raise gr.Error(failure_message(exc, "listing the documents")) from exc
        choices = [(e.source, document_id(e.path)) for e in entries]  # the page sees ids, not server paths
        return documents_html(entries), gr.update(choices=choices, value=None)

    # Chat -----------------------------------------------------------------------------------------
    def respond(message: str, chat: list, turns: list, records: dict) -> Iterator[tuple]:
        chat = list(chat or [])
        turns = list(turns or [])
        records = dict(records or {})
        try:
            question = validate_question(message, assistant.settings)
        except QuestionError as exc:
            gr.Warning(f"Cannot ask that: {exc}")
            yield chat, gr.skip(), gr.skip(), turns, records, message
            return
        chat.append({"role": "user", "content": chat_text(question)})
        chat.append({"role": "assistant", "content": ""})
        yield chat, gr.skip(), gr.skip(), turns, records, ""  # the question shows at once, while the answer is made
        streamed = ""
        answer = None
        shown_at = 0.0
        # The conversation keeps growing; the question carries its latest turns, within the history limit.
        recent = turns[len(turns) - settings.limits.max_history_turns :] if settings.limits.max_history_turns else []
        try:
            for event in assistant.ask_stream(question, history=recent):
                match event:
                    case Token(text):
                        streamed += text
                        if time.monotonic() - shown_at >= REDRAW_EVERY_S:  # the first token at once, then in bursts
                            shown_at = time.monotonic()
                            chat[-1] = {"role": "assistant", "content": chat_text(streamed)}
                            yield chat, gr.skip(), gr.skip(), turns, records, ""
                    case Final(answer):
                        pass
        except QuestionError as exc:  # an earlier turn over the limits (the question itself was checked above)
            chat[-1] = {"role": "assistant", "content": chat_text(f"Cannot ask that: {exc}")}
            yield chat, gr.skip(), gr.skip(), turns, records, ""
            return
        except Exception as exc:  # noqa: BLE001 (the chat says so plainly; the turn is not kept)
            chat[-1] = {"role": "assistant", "content": chat_text(failure_message(exc, "answering"))}
            yield chat, gr.skip(), gr.skip(), turns, records, ""
            return
        chat[-1] = {"role": "assistant", "content": chat_text(answer.answer)}
        turns = [*turns, {"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]
        public = answer.to_public()
        records[str(len(chat) - 1)] = {
            "question": question,
            "answer": answer.answer,
            "citations": public["citations"],
            "refused": answer.refused,
        }
        try:
            texts = documents.texts()
        except Exception:  # the panel falls back to the chunk text
            texts = {}
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
            settings.store.feedback_file,
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
    def received_by_upload(file_path: str) -> bool:
        """Did Gradio's upload route receive this file (in this server)? A made-up FileData could name any
        path on the server; Gradio's own check refuses paths outside its upload folder (see
        shells.server), this one any file its upload route did not write."""
        resolved = Path(file_path).resolve()
        return any(Path(received).resolve() == resolved for received in demo.upload_file_set)

    def on_upload(file_path, progress=gr.Progress()):  # noqa: B008 (Gradio's way to ask for a progress bar)
        if not file_path:
            return "No file.", *documents_view(), None
        if not received_by_upload(file_path):
            gr.Warning("Upload refused: the file was not uploaded to this server")
            return "Upload refused: the file was not uploaded to this server.", *documents_view(), None
        original = Path(file_path)  # Gradio has already refused files over max_document_bytes
        progress(0.3, desc="Checking and indexing (embedding sentences)")
        try:
            added = documents.add(original.name, original.read_bytes())
        except UploadRefused as exc:
            cause = exc.__cause__.__cause__ if exc.__cause__ is not None else None  # e.g. pypdf's own error
            log.warning("upload refused: %s%s", exc, f" ({type(cause).__name__}: {cause})" if cause else "")
            gr.Warning(f"Upload refused: {exc}")
            return f"Upload refused: {exc}", *documents_view(), None
        except Exception as exc:  # noqa: BLE001 (one plain message; the log has the rest)
            message = failure_message(exc, "indexing the upload")
            gr.Warning(message)
            return message, *documents_view(), None
        progress(1.0, desc="Done")
        if added.unchanged:
            status = f"{added.name} is already indexed (unchanged)."
        else:
            status = f"Indexed {added.name}: {added.entry.n_chunks} sentences."
        gr.Info(status)
        return status, *documents_view(), None

    def on_remove(doc_id: str | None):
        if not doc_id:
            return "Choose a document to remove.", *documents_view()
        try:
            removed = [entry for path in documents.find(doc_id) if (entry := documents.remove(path)) is not None]
        except Exception as exc:  # noqa: BLE001 (one plain message; the log has the rest)
            return failure_message(exc, "removing the document"), *documents_view()
        if not removed:
            return "That document is no longer indexed.", *documents_view()
        return f"Removed {removed[0].source} from the index.", *documents_view()

    # API ------------------------------------------------------------------------------------------
    def ask(question: str, history: str | None = None) -> dict:
        """Answer one question with verified citations; history is a JSON list of {role, content} turns."""
        try:
            return assistant.ask(question, history=parse_history(history)).to_public()
        except QuestionError as exc:
            raise gr.Error(f"Cannot ask that: {exc}") from exc
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 (one plain message; the log has the rest)
            raise gr.Error(failure_message(exc, "answering")) from exc

    def ask_stream(question: str, history: str | None = None) -> Iterator[str]:
        """Stream the answer text as it is written; the last value is the final (verified) answer."""
        streamed = ""
        try:
            for event in assistant.ask_stream(question, history=parse_history(history)):
                match event:
                    case Token(text):
                        streamed += text
                        yield streamed
                    case Final(answer):
                        yield answer.answer
        except QuestionError as exc:
            raise gr.Error(f"Cannot ask that: {exc}") from exc
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 (one plain message; the log has the rest)
            raise gr.Error(failure_message(exc, "answering")) from exc

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
                        max_length=settings.limits.max_question_chars,
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
                f"Add a document ({' '.join(UPLOAD_SUFFIXES)}, up to {settings.limits.max_document_bytes / 1e6:.0f} MB). "
                "It is checked before anything is saved, then indexed."
            )
            upload = gr.File(label="Upload", file_types=list(UPLOAD_SUFFIXES), type="filepath", elem_id="upload")
            upload_status = gr.Textbox(label="Status", interactive=False, elem_id="upload-status")
            docs = gr.HTML(elem_id="documents", js_on_load=None)
            with gr.Row():
                doc_choice = gr.Dropdown(label="Document", choices=[], scale=4)
                remove = gr.Button("Remove from index", variant="stop", scale=1)

        chat_outputs = [chatbot, sources, retrieved, turns, records, question]
        common = {"concurrency_id": GROUP, "concurrency_limit": 1}
        # The streamed answer is the progress indicator; Gradio's animated overlays would take the CPU the
        # model needs on a small machine.
        chat_event = {"api_visibility": "private", "show_progress": "hidden", **common}
        send.click(respond, [question, chatbot, turns, records], chat_outputs, **chat_event)
        question.submit(respond, [question, chatbot, turns, records], chat_outputs, **chat_event)
        for button, text in zip(starters, STARTERS, strict=True):

            def starter(chat, turns_, records_, _text=text):
                yield from respond(_text, chat, turns_, records_)

            button.click(starter, [chatbot, turns, records], chat_outputs, **chat_event)
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
