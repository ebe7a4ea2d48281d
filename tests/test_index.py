"""Incremental indexing against the real embedder and the real Chroma, including a kill -9 mid-run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import load_settings
from index.pipeline import EMBED_POOL, index_paths, open_store
from tests.support import BRIEF, ROOT, run_brief


def counts(settings):
    store = open_store(settings)
    docs = store.documents()
    return {Path(p).name: e.n_chunks for p, e in docs.items()}, store.count(), len(store.all_chunks())


def test_reindexing_skips_replaces_and_removes(tmp_path, fake_embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "brief.txt").write_text(BRIEF.read_text())
    (docs / "notes.md").write_text("# Notes\n\nThe Zorblax river is 42 km long. It floods in May.\n")
    (docs / "image.png").write_bytes(b"\x89PNG")
    settings = load_settings(data_dir=str(tmp_path / "data"))

    first = index_paths([docs], settings, progress=False)
    assert sorted(Path(p).name for p in first.added) == ["brief.txt", "notes.md"]
    assert any("image.png" in w and "unsupported" in w for w in first.warnings)
    names, stored, committed = counts(settings)
    assert names == {"brief.txt": 15, "notes.md": 2} and stored == committed == 17

    second = index_paths([docs], settings, progress=False)
    assert second.added == second.updated == [] and len(second.unchanged) == 2 and second.chunks_written == 0

    (docs / "notes.md").write_text("# Notes\n\nThe Zorblax river is 43 km long.\n")
    third = index_paths([docs], settings, progress=False)
    assert [Path(p).name for p in third.updated] == ["notes.md"]
    names, stored, committed = counts(settings)
    assert names["notes.md"] == 1 and stored == committed == 16, "the old version's chunks are gone"

    (docs / "notes.md").unlink()
    fourth = index_paths([docs], settings, progress=False)
    assert [Path(p).name for p in fourth.removed] == ["notes.md"]
    assert counts(settings)[0] == {"brief.txt": 15}


@pytest.mark.slow  # runs `brief index` in subprocesses
def test_cli_reports_bad_input_without_a_traceback(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "good.txt").write_text("Mali is in West Africa. It is landlocked.")
    missing = run_brief("index", "nowhere", cwd=tmp_path)
    assert missing.returncode == 1 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    mixed = run_brief("index", "empty.txt", "good.txt", "--quiet", cwd=tmp_path)
    assert mixed.returncode == 1 and "empty.txt: file is empty" in mixed.stderr
    assert "1 added" in mixed.stdout and "Traceback" not in mixed.stderr
    unsupported = tmp_path / "slides.pptx"
    unsupported.write_bytes(b"PK")
    skipped = run_brief("index", "slides.pptx", cwd=tmp_path)
    assert skipped.returncode == 0 and "unsupported file type" in skipped.stderr


@pytest.mark.slow  # kills `brief index` in a subprocess
def test_kill_minus_nine_mid_run_keeps_the_previous_index(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a-brief.txt").write_text(BRIEF.read_text())
    env = os.environ | {"BRIEF_DATA_DIR": str(tmp_path / "data")}
    cli = [sys.executable, "-m", "shells.cli"]
    subprocess.run([*cli, "index", "docs", "--quiet"], cwd=tmp_path, env=env, check=True, capture_output=True)

    # Many more documents, then kill the run once it has committed some of them.
    for i in range(60):
        (docs / f"doc{i:02d}.txt").write_text(
            " ".join(f"Document {i} sentence {j} mentions topic {i * j} in some detail." for j in range(40))
        )
    proc = subprocess.Popen([*cli, "index", "docs"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    seen = ""
    deadline = time.time() + 120
    while time.time() < deadline:
        char = proc.stderr.read(1)
        if not char:
            break
        seen += char
        if f"| {EMBED_POOL}/" in seen:  # the first pool of sentences is stored: some documents are committed
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert f"| {EMBED_POOL}/" in seen, f"the run did not get going: {seen[-500:]}"

    settings = load_settings(data_dir=str(tmp_path / "data"))
    names, _, committed = counts(settings)
    assert names["a-brief.txt"] == 15 and 0 < len(names) < 61
    assert committed == sum(names.values()), "only complete documents are visible"
    asked = subprocess.run(
        [*cli, "ask", "Which critical minerals does Mali hold reserves of?", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert asked.returncode == 0 and "uranium" in asked.stdout

    again = subprocess.run([*cli, "index", "docs", "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    names, stored, committed = counts(settings)
    assert len(names) == 61 and stored == committed == sum(names.values()), "completed, no duplicates"


def test_rebuild_starts_from_scratch(tmp_path, fake_embedder):
    settings = load_settings(data_dir=str(tmp_path / "data"))
    index_paths([ROOT / "seeds"], settings, progress=False)
    report = index_paths([ROOT / "seeds"], settings, progress=False, rebuild=True)
    assert len(report.added) == 1 and counts(settings)[1] == 15


def test_adding_a_file_reads_no_other_documents_chunks_and_leftovers_are_still_removed(tmp_path, fake_embedder):
    """Adding one file to a big index took 6 s at 125k sentences, reading every chunk's metadata to look for
    leftovers of killed runs; it now reads none when there are none, and still removes those there are."""
    from kernel.types import Chunk

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "brief.txt").write_text(BRIEF.read_text())
    settings = load_settings(data_dir=str(tmp_path / "data"))
    index_paths([docs], settings, progress=False)
    store = open_store(settings)

    rows_read = []
    original_get = store.chunks.get

    def counting_get(*args, **kwargs):
        got = original_get(*args, **kwargs)
        rows_read.append(len(got["ids"]))
        return got

    store.chunks.get = counting_get
    (docs / "notes.md").write_text("# Notes\n\nThe Zorblax river is 42 km long. It floods in May.\n")
    report = index_paths([docs / "notes.md"], settings, progress=False, store=store)
    assert [Path(p).name for p in report.added] == ["notes.md"]
    assert sum(rows_read) == 0, "no chunk was read to add one file"

    # Leftovers of killed runs: a replacement's chunks written but not committed, under the indexed folder,
    # and another folder's, which this run must leave alone (another writer may be about to commit them).
    vector = [[0.1] * store.identity["embedding_dim"]]
    leftover = Chunk(id="leftover", text="Half written.", source="notes.md", start=0, end=13, doc_hash="x")
    elsewhere = Chunk(id="elsewhere", text="Being written.", source="other.md", start=0, end=14, doc_hash="y")
    store.add_chunks([leftover], str((docs / "notes.md").resolve()), vector)
    store.add_chunks([elsewhere], str((tmp_path / "other" / "other.md").resolve()), vector)
    again = index_paths([docs], settings, progress=False, store=store)
    assert len(again.unchanged) == 2 and sum(rows_read) > 0, "the leftovers were looked for"
    ids = set(store.chunks.get(include=[])["ids"])
    assert "leftover" not in ids and "elsewhere" in ids
    assert counts(settings)[0] == {"brief.txt": 15, "notes.md": 2}
