"""GET/POST /api/documents, DELETE /api/documents/{id}: what is indexed, adding and removing documents."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, File, Request, Response, UploadFile

from index.documents import UploadRefused, document_id
from shells.api.errors import ApiError
from shells.api.schemas import Document, DocumentList, ErrorResponse
from shells.api.state import get_state

router = APIRouter(prefix="/api", tags=["documents"])
log = logging.getLogger("brief.api")

UPLOAD_PATH = "/api/documents"


def to_document(entry) -> dict:
    return {"id": document_id(entry.path), "source": entry.source, "n_chunks": entry.n_chunks, "kind": entry.kind}


@router.get("/documents", response_model=DocumentList, summary="The indexed documents")
async def list_documents(request: Request) -> dict:
    state = get_state(request)
    entries = await anyio.to_thread.run_sync(state.assistant.documents.entries)
    return {"documents": [to_document(e) for e in entries]}


@router.post(
    "/documents",
    status_code=201,
    response_model=Document,
    summary="Upload and index a document (.txt .md .pdf .html)",
    responses={400: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
)
async def upload_document(request: Request, file: UploadFile = File(...)) -> dict:  # noqa: B008
    state = get_state(request)
    limit = state.settings.limits.max_document_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"the file is larger than the limit of {limit} bytes")
    try:
        added = await anyio.to_thread.run_sync(state.assistant.documents.add, file.filename or "", data)
    except UploadRefused as exc:
        cause = exc.__cause__.__cause__ if exc.__cause__ is not None else None  # e.g. pypdf's own error
        log.warning("upload refused: %s%s", exc, f" ({type(cause).__name__}: {cause})" if cause else "")
        raise ApiError(400, str(exc)) from exc
    return to_document(added.entry)


@router.delete(
    "/documents/{doc_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a document from the index (and its uploaded file)",
    responses={404: {"model": ErrorResponse}},
)
async def delete_document(doc_id: str, request: Request) -> Response:
    state = get_state(request)
    await anyio.to_thread.run_sync(_delete, state, doc_id)
    return Response(status_code=204)


def _delete(state, doc_id: str) -> None:
    documents = state.assistant.documents
    matches = documents.find(doc_id)
    if not matches:
        raise ApiError(404, f"no document with id '{doc_id}'")
    for path in matches:
        documents.remove(path)
