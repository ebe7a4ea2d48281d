"""Big files: one size limit at every door, progress while a single file indexes, bounded memory chunking."""

import os
import subprocess
import sys
import tracemalloc

import pytest

from assistant import load_settings
from index.chunking import iter_sentences
from index.documents import UploadRefused, check_upload
from index.pipeline import EMBED_POOL
from tests.support import run_brief


@pytest.mark.slow  # runs `brief index` in subprocesses
def test_a_file_over_the_limit_is_refused_at_every_door(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("The Zorblax river floods in May. " * 200)  # 6.6 kB
    env = {"BRIEF_MAX_DOCUMENT_BYTES": "4096", "BRIEF_DATA_DIR": str(tmp_path / "data")}
    refused = run_brief("index", "big.txt", cwd=tmp_path, env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "big.txt is 0.0 MB; the limit is 0.0 MB (max_document_bytes" in refused.stderr
    assert "--max-bytes" in refused.stderr and "0 added" in refused.stdout

    with pytest.raises(UploadRefused, match=r"big.txt is .* MB; the limit is .* \(max_document_bytes"):
        check_upload("big.txt", big.read_bytes(), load_settings(max_document_bytes=4096))

    bad_flag = run_brief("index", "big.txt", "--max-bytes", "lots", cwd=tmp_path, env=env)
    assert bad_flag.returncode == 2 and "not a size" in bad_flag.stderr

    raised = run_brief("index", "big.txt", "--max-bytes", "8K", "--quiet", cwd=tmp_path, env=env)
    assert raised.returncode == 0 and "1 added" in raised.stdout


@pytest.mark.slow  # `brief index` of 5,120 sentences in a subprocess
def test_a_big_allowed_file_shows_progress_while_it_indexes(tmp_path):
    """One file of 2.5 embedding pools: the bar counts sentences with a rate and an ETA before the file is done."""
    n = EMBED_POOL * 5 // 2
    (tmp_path / "big.txt").write_text(" ".join(f"Gauge {i} reads {i % 7} metres." for i in range(n)))
    env = {"BRIEF_MAX_DOCUMENT_BYTES": "4096", "BRIEF_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "120"}
    cli = [sys.executable, "-m", "shells.cli", "index", "big.txt", "--max-bytes", "1M"]
    proc = subprocess.Popen(cli, cwd=tmp_path, env=os.environ | env, stderr=subprocess.PIPE)
    updates: list[str] = []
    buffer = b""
    while (byte := proc.stderr.read(1)) != b"":
        if byte in b"\r\n":
            line = buffer.decode(errors="replace")
            if "sentences/s" in line:
                updates.append(line)
            buffer = b""
        else:
            buffer += byte
    assert proc.wait(timeout=600) == 0
    counts = [int(line.split("|")[2].split("/")[0]) for line in updates if line.count("|") >= 2]
    assert EMBED_POOL in counts and 2 * EMBED_POOL in counts, f"progress within the file: {updates}"
    assert counts[-1] == n
    assert "<" in updates[1], "a rate and an ETA are shown"


def test_chunking_a_huge_paragraph_keeps_memory_bounded():
    """A 2 MB file with no blank line is one paragraph: sentences come out with bounded working memory
    (the whole-paragraph character map took ~70 bytes a character)."""
    text = "The Zorblax river is forty-two kilometres long and floods every May. " * 30_000
    tracemalloc.start()
    count = 0
    for sentence in iter_sentences(text):
        count += 1
        assert text[sentence.start : sentence.end] == sentence.text
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 30_000
    assert peak < 10_000_000, f"peak {peak / 1e6:.1f} MB while chunking a {len(text) / 1e6:.1f} MB paragraph"


def test_a_pool_that_fills_on_a_documents_last_sentence_counts_that_document_once(tmp_path, fake_embedder):
    """The progress bar advanced twice past a document whose last sentence filled the embedding pool and ended
    its text; on the 1,545-page corpus that ran past the last document and ended `brief index` in a traceback."""
    from index.pipeline import index_paths

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(" ".join(f"Sentence number {i} is here." for i in range(EMBED_POOL)))
    (docs / "b.txt").write_text("One more sentence follows in another file.")
    report = index_paths([docs], load_settings(data_dir=str(tmp_path / "data")), progress=True)
    assert report.errors == [] and len(report.added) == 2
