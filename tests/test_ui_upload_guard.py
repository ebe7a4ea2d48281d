"""The web chat's upload event accepts only files that Gradio's own upload route received: a made-up
Gradio FileData naming a file on the server (sent as the page would, with /gradio_api/queue/join) is refused,
reads nothing and indexes nothing. Real `brief serve` app on loopback, real HTTP requests."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support import ROOT, chat_fn_index, gradio_event, indexed_settings, served

SECRET_FILE = ROOT / "README.md"  # any readable .md on the server


def file_data(path) -> dict:
    return {"path": str(path), "orig_name": "README.md", "meta": {"_type": "gradio.FileData"}}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = indexed_settings(tmp_path_factory.mktemp("upload-guard"))
    with served(settings) as (url, assistant):
        yield url, assistant


def sources(assistant) -> set[str]:
    return {entry.source for entry in assistant.store.documents().values()}


def test_a_made_up_file_path_is_not_read(app):
    url, assistant = app
    before = sources(assistant)
    with httpx.Client(base_url=url, timeout=120) as client:
        fn_index = chat_fn_index(client.get("/config").json(), "upload", "upload")
        messages = gradio_event(client, fn_index, [file_data(SECRET_FILE)], uuid.uuid4().hex)
    assert messages and messages[-1]["msg"] == "process_completed"
    assert sources(assistant) == before
    uploads = assistant.settings.store.uploads_dir
    assert not (uploads.exists() and any(p.name.lower().startswith("readme") for p in uploads.iterdir()))


def test_a_real_upload_still_works(app):
    url, assistant = app
    with httpx.Client(base_url=url, timeout=120) as client:
        (received,) = client.post(
            "/gradio_api/upload", files={"files": ("guard notes.md", b"# Notes\n\nThe Zorblax river is 42 km long.\n")}
        ).json()
        fn_index = chat_fn_index(client.get("/config").json(), "upload", "upload")
        data = [{"path": received, "orig_name": "guard notes.md", "meta": {"_type": "gradio.FileData"}}]
        messages = gradio_event(client, fn_index, data, uuid.uuid4().hex)
    assert messages[-1]["success"], messages[-1]
    assert any(s.endswith("guard_notes.md") for s in sources(assistant))


def test_a_copy_of_a_file_in_gradios_folder_that_was_not_uploaded_is_refused(app, tmp_path):
    """Gradio's check accepts anything in its (machine-wide) upload folder; the chat accepts only what this
    server's upload route received."""
    import shutil

    from gradio.utils import get_upload_folder

    url, assistant = app
    planted = tmp_path / "planted.md"
    planted.write_text("# Planted\n\nThe Quenthian lake is 17 km wide.\n")
    inside = get_upload_folder() + f"/{uuid.uuid4().hex}/planted.md"
    import pathlib

    pathlib.Path(inside).parent.mkdir(parents=True)
    shutil.copy(planted, inside)
    before = sources(assistant)
    with httpx.Client(base_url=url, timeout=120) as client:
        fn_index = chat_fn_index(client.get("/config").json(), "upload", "upload")
        gradio_event(client, fn_index, [file_data(inside)], uuid.uuid4().hex)
    assert sources(assistant) == before
    shutil.rmtree(pathlib.Path(inside).parent)
