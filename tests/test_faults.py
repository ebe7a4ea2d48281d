"""Fault injection with real processes: `kill -9` at seeded random points of `brief index`, `brief index
--rebuild`, an upload that replaces a file, a new upload and a removal (the document service in a child process,
and once through `brief serve`'s HTTP API). After each kill the store is opened again in a new process (which
finishes or undoes half-done uploads) and checked: every listed document's quotes equal its file's text at their
offsets, no sentence outside the manifest, no file in the uploads outside the manifest, no duplicates, and every
document that was there before is there, in its old version or its new one.

The seed is printed (`FAULT_SEED=<n>` replays a run). This module is also the child processes' entry point:
`python -m tests.test_faults snapshot|service|cli ...` (see `child_main`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import child_server, free_port, run_brief, wait_for_http

ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(1 << 30))
CHILD_ENV = os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
LOADED = "loaded"  # what a child prints once its models are loaded and the operation under test begins


# Documents ------------------------------------------------------------------------------------------------
WORDS = [
    "river",
    "harbour",
    "copper",
    "treaty",
    "census",
    "rainfall",
    "bridge",
    "tariff",
    "clinic",
    "archive",
    "market",
    "canal",
    "school",
]


def document_text(name: str, version: int, sentences: int) -> str:
    """Distinct plain sentences, one line per paragraph of five, so offsets are easy to check by eye."""
    rng = random.Random(f"{name}/{version}")
    lines, line = [], []
    for i in range(sentences):
        word = rng.choice(WORDS)
        line.append(f"In {name} version {version}, the {word} figure {i} was {rng.randrange(10**6)} units.")
        if len(line) == 5:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return "\n\n".join(filter(None, lines)) + "\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Child processes ------------------------------------------------------------------------------------------
@dataclass
class ChildRun:
    lines: list[str]  # its stdout
    killed: bool  # killed before it finished
    seconds: float  # from LOADED to its exit (or kill)


def child(argv: list[str], *, kill_after: float | None = None, timeout: float = 300) -> ChildRun:
    """Run `python -m tests.test_faults ARGV`; with `kill_after`, SIGKILL it that many seconds after it prints
    LOADED."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.test_faults", *argv],
        cwd=ROOT,
        env=CHILD_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    stderr: list[str] = []
    loaded = threading.Event()
    loaded_at = [time.monotonic()]

    def read_stdout():
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.strip() == LOADED:
                loaded_at[0] = time.monotonic()
                loaded.set()
        loaded.set()

    readers = [
        threading.Thread(target=read_stdout, daemon=True),
        threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    killed = False
    try:
        if kill_after is not None:
            assert loaded.wait(timeout), f"{argv}: never printed '{LOADED}'"
            time.sleep(kill_after)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                killed = True
        code = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    ended = time.monotonic()
    for reader in readers:
        reader.join(10)
    if kill_after is not None:
        what = " ".join(Path(a).name if a.startswith("/") else a for a in argv)
        print(f"{what}: {'killed' if killed else 'finished before'} {kill_after:.2f}s in")
    if not killed:
        assert code == 0, f"{argv} exited {code}:\n{''.join(stderr)[-3000:]}"
    return ChildRun(lines, killed, ended - loaded_at[0])


def snapshot(data_dir: Path, *, recover: bool = True, config: Path | None = None) -> dict:
    """Open the store in a new process (recovering half-done uploads, as `brief serve` does at start) and return
    everything in it: the manifest, every sentence of the live collection, the collections and the uploads."""
    options = (["--recover"] if recover else []) + ([f"--config={config}"] if config else [])
    return json.loads(child(["snapshot", str(data_dir), *options]).lines[-1])


def timed(lines: list[str]) -> dict[str, float]:
    """The seconds each operation of a `service` child took, by its label."""
    return {r["op"]: r["seconds"] for r in map(json.loads, (line for line in lines if line.startswith("{")))}


def brief_cli(data_dir: Path, *args: str, kill_after: float | None = None) -> ChildRun:
    return child(["cli", "--data-dir", str(data_dir), *args], kill_after=kill_after)


# Checks ---------------------------------------------------------------------------------------------------
def problems_in(snap: dict, allowed: dict[str, set[str | None]] | None = None, *, settled: bool = True) -> list[str]:
    """Everything wrong with a snapshot. `allowed` maps a document's path to the hashes it may be indexed at
    (None: absent), e.g. {old, new} for a document whose replacement was killed. Unless `settled` (an index
    run was killed and its files have changed since), quotes are checked against the indexed text rather than
    the files, and the killed run's uncommitted sentences are allowed."""
    problems = []
    docs = {d["path"]: d for d in snap["documents"]}
    sources = [d["source"] for d in snap["documents"]]
    problems += [f"listed twice: {s}" for s in sorted({s for s in sources if sources.count(s) > 1})]
    committed = {(d["path"], d["doc_hash"]) for d in docs.values()}
    sentences = defaultdict(list)
    for chunk in snap["chunks"]:
        if (chunk["path"], chunk["doc_hash"]) in committed:
            sentences[chunk["path"]].append(chunk)
        elif settled:
            problems.append(f"orphan sentence {chunk['id']} of {chunk['path']}")
    for path, doc in docs.items():
        file = Path(path)
        text = doc["text"]
        if settled:
            if not file.is_file():
                problems.append(f"{path}: listed, but the file is gone")
                continue
            data = file.read_bytes()
            if sha256(data) != doc["doc_hash"]:
                problems.append(f"{file.name}: the file is not the indexed version")
            text = data.decode("utf-8-sig")
            if text != doc["text"]:
                problems.append(f"{file.name}: the indexed text is not the file's")
        chunks = sorted(sentences[path], key=lambda c: c["position"])
        if [c["position"] for c in chunks] != list(range(doc["n_chunks"])):
            problems.append(f"{file.name}: sentences missing or duplicated ({len(chunks)} for {doc['n_chunks']})")
        for c in chunks:
            if " ".join(text[c["start"] : c["end"]].split()) != " ".join(c["text"].split()):
                problems.append(f"{file.name}: quote {c['start']}-{c['end']} is not the file's text there")
    for name in snap["uploads"]:
        if str(Path(snap["uploads_dir"]) / name) not in docs:
            problems.append(f"orphan file in the uploads: {name}")
    for path, hashes in (allowed or {}).items():
        found = docs[path]["doc_hash"] if path in docs else None
        if found not in hashes:
            state = "missing" if found is None else "at a version it never had"
            problems.append(f"{Path(path).name}: {state}")
    return problems


def assert_sound(snap: dict, allowed: dict | None, context: str) -> None:
    problems = problems_in(snap, allowed)
    assert not problems, f"{context} (FAULT_SEED={SEED}):\n" + "\n".join(problems[:20])


def versions(snap: dict) -> dict[str, set[str | None]]:
    """Each listed document's current hash, as the only one it may have."""
    return {d["path"]: {d["doc_hash"]} for d in snap["documents"]}


@pytest.fixture
def rng(request) -> random.Random:
    print(f"fault seed {SEED} (replay with FAULT_SEED={SEED})")
    return random.Random(f"{SEED}/{request.node.name}")


def write_corpus(folder: Path, names: list[str], version: int, sentences: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.txt").write_text(document_text(name, version, sentences))


# The suite ------------------------------------------------------------------------------------------------
@pytest.mark.slow  # kills `brief index` in child processes
def test_killed_index_runs_lose_nothing(tmp_path, rng):
    """`brief index` killed while it replaces, adds and removes documents; the next run completes it."""
    data, corpus = tmp_path / "data", tmp_path / "corpus"
    names = [f"doc{i:02d}" for i in range(24)]
    write_corpus(corpus, names, 0, 6)
    window = brief_cli(data, "index", str(corpus), "--quiet").seconds / 2  # a round re-indexes 9 of 24
    before = snapshot(data)
    assert_sound(before, None, "after the first index")
    for round_ in range(1, 4):
        changed = rng.sample(names, 8)
        write_corpus(corpus, changed, round_, 6)
        gone = rng.choice([n for n in names if n not in changed])
        (corpus / f"{gone}.txt").unlink()
        names.remove(gone)
        new = f"new{round_}"
        write_corpus(corpus, [new], round_, 6)
        names.append(new)
        allowed = versions(before)
        for name in [*changed, new]:
            path = str((corpus / f"{name}.txt").resolve())
            allowed.setdefault(path, {None}).add(sha256((corpus / f"{name}.txt").read_bytes()))
        allowed[str((corpus / f"{gone}.txt").resolve())].add(None)

        delay = rng.uniform(0, window)
        killed = brief_cli(data, "index", str(corpus), "--quiet", kill_after=delay).killed
        before = snapshot(data)
        problems = problems_in(before, allowed, settled=not killed)
        assert not problems, f"round {round_}, killed {delay:.2f}s in (FAULT_SEED={SEED}): {problems[:20]}"

        if killed:
            brief_cli(data, "index", str(corpus), "--quiet")  # the restart completes the run
            before = snapshot(data)
        current = {str((corpus / f"{n}.txt").resolve()): {sha256((corpus / f"{n}.txt").read_bytes())} for n in names}
        assert_sound(before, current, f"round {round_}: the run after the kill")
        assert len(before["documents"]) == len(names)


@pytest.mark.slow  # kills `brief index --rebuild` in child processes
def test_killed_rebuild_keeps_the_previous_index(tmp_path, rng):
    """Defect 2: `brief index --rebuild` killed at any point leaves the previous index whole; the next
    `brief index` deletes the half-built generation."""
    data, corpus = tmp_path / "data", tmp_path / "corpus"
    names = [f"doc{i:02d}" for i in range(30)]
    write_corpus(corpus, names, 0, 5)
    window = brief_cli(data, "index", str(corpus), "--quiet").seconds  # what a rebuild takes, once loaded
    before = snapshot(data)
    assert len(before["documents"]) == 30
    assert_sound(before, None, "after the first index")
    everything = versions(before)
    delays = [window / 3] + [rng.uniform(0, window) for _ in range(3)]  # the first one mid-rebuild for sure
    for delay in delays:
        killed = brief_cli(data, "index", str(corpus), "--rebuild", "--quiet", kill_after=delay).killed
        after = snapshot(data)
        assert_sound(after, everything, f"rebuild killed {delay:.2f}s in (killed: {killed})")
        assert len(after["documents"]) == 30
    brief_cli(data, "index", str(corpus), "--quiet")
    final = snapshot(data)
    assert_sound(final, everything, "the index run after the killed rebuilds")
    live = set(final["live_collections"])
    assert set(final["collections"]) - {final["pointer"]} == live, "the abandoned generations are deleted"


@pytest.mark.slow  # kills the document service in child processes
def test_killed_uploads_and_removals_leave_old_or_new(tmp_path, rng):
    """Defects 1 and 5: a new upload, an upload that replaces a file and a removal, each killed at a random
    point of the document service in a child process; the next start finishes or undoes it. The first kill of
    each upload kind lands early in the indexing of a long file, so that it always finds the operation half
    done."""
    data, files = tmp_path / "data", tmp_path / "files"
    files.mkdir()
    small, long = 150, 600  # sentences: a window of a few seconds; one that is surely still being indexed
    setup = {"keep.md": 8, "replace.txt": small, "calibrate.txt": 60}
    setup |= {f"gone{i}.txt": 60 for i in range(7)}
    ops = []
    for name, n in setup.items():
        (files / name).write_text(document_text(name, 0, n))
        ops.append(f"upload:{name}:{files / name}")
    took = timed(child(["service", str(data), *ops, "delete:calibrate.txt"]).lines)
    upload_window, delete_window = took["upload:replace.txt"] * 1.2, took["delete:calibrate.txt"] * 1.5
    before = snapshot(data)
    assert_sound(before, None, "after the first uploads")
    uploads = Path(before["uploads_dir"])

    def upload_killed(name: str, version: int, sentences: int, delay: float) -> None:
        nonlocal before
        new = files / f"{name}-v{version}"
        new.write_text(document_text(name, version, sentences))
        allowed = versions(before)
        allowed[str(uploads / name)] = allowed.get(str(uploads / name), {None}) | {sha256(new.read_bytes())}
        killed = child(["service", str(data), f"upload:{name}:{new}"], kill_after=delay).killed
        before = snapshot(data)
        assert_sound(before, allowed, f"upload of {name} killed {delay:.2f}s in (killed: {killed})")

    upload_killed("new0.txt", 0, long, rng.uniform(0.5, 1.2))  # defect 5: an orphan file in the uploads
    upload_killed("new1.txt", 0, small, rng.uniform(0, upload_window))
    upload_killed("replace.txt", 1, long, rng.uniform(0.5, 1.2))  # defect 1: new bytes, old index
    for version in range(2, 6):
        upload_killed("replace.txt", version, small + version, rng.uniform(0, upload_window))

    for number in range(7):
        delay = rng.uniform(0, delete_window)
        target = str(uploads / f"gone{number}.txt")
        allowed = versions(before)
        allowed[target] = allowed[target] | {None}
        killed = child(["service", str(data), f"delete:gone{number}.txt"], kill_after=delay).killed
        before = snapshot(data)
        assert_sound(before, allowed, f"removal killed {delay:.3f}s in (killed: {killed})")
        if not killed:
            assert target not in versions(before)


@pytest.mark.slow  # kills `brief serve` in a child process
def test_brief_serve_killed_while_replacing_an_upload(tmp_path, rng):
    """Defect 1 as reported: `brief serve` killed while it indexes a replacement sent to /api/documents; the
    restarted server lists the old version, its file is the old one, and no upload is left half done."""
    import httpx

    data = tmp_path / "data"
    env = {"BRIEF_DATA_DIR": str(data), "BRIEF_PREFILL_SENTENCES": "0"}
    port = free_port()
    argv = [sys.executable, "-m", "shells.cli", "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    old = document_text("replace.txt", 0, 10).encode()
    new = document_text("replace.txt", 1, 600).encode()

    server = subprocess.Popen(
        argv, cwd=tmp_path, env=CHILD_ENV | env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_http(url + "/readyz", timeout=240, process=server)
        assert httpx.post(url + "/api/documents", files={"file": ("replace.txt", old)}, timeout=120).status_code == 201
        sender = threading.Thread(
            target=lambda: _ignore_errors(httpx.post, url + "/api/documents", files={"file": ("replace.txt", new)}),
            daemon=True,
        )
        sender.start()
        time.sleep(rng.uniform(1.0, 2.0))  # the replacement is sent and being indexed
        server.send_signal(signal.SIGKILL)
    finally:
        server.kill()
        server.wait()
    sender.join(10)

    server = subprocess.Popen(
        argv, cwd=tmp_path, env=CHILD_ENV | env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_http(url + "/readyz", timeout=240, process=server)  # the restart recovers the upload
        listed = httpx.get(url + "/api/documents", timeout=30).json()["documents"]
    finally:
        server.terminate()
        server.wait(30)
    assert [d["source"].rsplit("/", 1)[-1] for d in listed].count("replace.txt") == 1
    snap = snapshot(data, recover=False)  # what the restarted server itself left
    replace = str(Path(snap["uploads_dir"]) / "replace.txt")
    assert_sound(snap, {replace: {sha256(old), sha256(new)}}, "brief serve killed while replacing")
    assert sorted(snap["uploads"]) == ["replace.txt"]


def _ignore_errors(function, *args, **kwargs):
    with contextlib.suppress(Exception):  # the server is killed under it
        function(*args, timeout=120, **kwargs)


# Store units: recovery and generations without killing ----------------------------------------------------
def fake_document(store, path: Path, text: str, *, commit: bool) -> str:
    """Write a document's sentences (and its manifest entry when `commit`) with stand-in vectors; its hash."""
    from index.loaders import load_document
    from index.pipeline import make_chunks
    from index.store import ManifestEntry

    doc = load_document(path, data=text.encode())
    chunks = make_chunks(doc, path.name, str(path))
    store.add_chunks(chunks, str(path), [[1.0] + [0.0] * 383 for _ in chunks])
    if commit:
        store.commit_document(
            ManifestEntry(str(path), path.name, doc.content_hash, len(chunks), doc.kind, 0.0, doc.text)
        )
        store.delete_stale_chunks(str(path), doc.content_hash)
    return doc.content_hash


def test_recovery_finishes_committed_uploads_and_undoes_the_rest(tmp_path):
    from assistant import load_settings
    from index.documents import PENDING_PREFIX, recover_uploads
    from index.pipeline import open_store

    settings = load_settings(data_dir=str(tmp_path / "data"))
    store = open_store(settings)
    uploads = settings.store.uploads_dir.resolve()
    uploads.mkdir(parents=True)
    texts = {name: document_text(name, 0, 3) for name in ("done.txt", "undone.txt", "orphan.txt", "kept.txt")}
    newer = document_text("undone.txt", 1, 4)
    # done.txt: the index committed the pending bytes, the switch did not happen
    (uploads / "done.txt").write_text(document_text("done.txt", 9, 2))
    (uploads / (PENDING_PREFIX + "done.txt")).write_text(texts["done.txt"])
    fake_document(store, uploads / "done.txt", texts["done.txt"], commit=True)
    # undone.txt: the old version is committed; the replacement's sentences were written, not committed
    (uploads / "undone.txt").write_text(texts["undone.txt"])
    old_hash = fake_document(store, uploads / "undone.txt", texts["undone.txt"], commit=True)
    (uploads / (PENDING_PREFIX + "undone.txt")).write_text(newer)
    fake_document(store, uploads / "undone.txt", newer, commit=False)
    # orphan.txt: on disk with some sentences, never committed (or its removal was killed before the unlink)
    (uploads / "orphan.txt").write_text(texts["orphan.txt"])
    fake_document(store, uploads / "orphan.txt", texts["orphan.txt"], commit=False)
    (uploads / "kept.txt").write_text(texts["kept.txt"])
    fake_document(store, uploads / "kept.txt", texts["kept.txt"], commit=True)

    recover_uploads(store, settings)
    assert sorted(p.name for p in uploads.iterdir()) == ["done.txt", "kept.txt", "undone.txt"]
    assert (uploads / "done.txt").read_text() == texts["done.txt"]
    assert (uploads / "undone.txt").read_text() == texts["undone.txt"]
    docs = store.documents()
    assert docs[str(uploads / "undone.txt")].doc_hash == old_hash
    paths = [m["path"] for m in store.chunks.get(include=["metadatas"])["metadatas"]]
    assert paths.count(str(uploads / "undone.txt")) == 3, "the replacement's uncommitted sentences are gone"
    assert str(uploads / "orphan.txt") not in paths
    assert len(store.all_chunks()) == len(paths) == 9


def test_a_rebuild_with_errors_keeps_the_previous_index(tmp_path):
    from assistant import load_settings
    from index.pipeline import index_paths, open_store

    settings = load_settings(data_dir=str(tmp_path / "data"))
    kept = fake_document(open_store(settings), tmp_path / "a.txt", document_text("a", 0, 3), commit=True)
    report = index_paths([tmp_path / "nowhere"], settings, rebuild=True, progress=False)
    assert "no such file" in report.errors[0] and "previous index is unchanged" in report.errors[-1]
    store = open_store(settings)
    assert [e.doc_hash for e in store.documents().values()] == [kept] and store.generation == 1
    assert {c.name for c in store.client.list_collections()} == {"brief", "brief__manifest"}


def test_a_rebuild_replaces_an_index_built_with_another_embedding_model(tmp_path):
    """The refusal to open such an index says to run `brief index --rebuild`, so the rebuild must open it."""
    from assistant import load_settings
    from index.pipeline import index_paths, open_store
    from index.store import ChunkStore, StoreError

    settings = load_settings(data_dir=str(tmp_path / "data"))
    fake_document(ChunkStore(settings.store, "another-model", 384), tmp_path / "a.txt", "Old words.", commit=True)
    with pytest.raises(StoreError, match="rebuild"):
        open_store(settings)
    (tmp_path / "empty").mkdir()
    assert index_paths([tmp_path / "empty"], settings, rebuild=True, progress=False).errors == []
    assert open_store(settings).documents() == {}


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    url = f"http://127.0.0.1:{port}"
    argv = [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(path), "--port", str(port)]
    with child_server(argv, url + "/api/v2/heartbeat", timeout=60):
        yield url


@pytest.mark.parametrize(
    "server",
    [False, pytest.param(True, marks=pytest.mark.slow)],  # slow: a `chroma run` child process
    ids=["embedded", "chroma-server"],
)
def test_a_rebuild_is_published_to_open_readers_at_once(tmp_path, server, request):
    """A reader opened before a rebuild keeps the old generation until the switch, then follows the pointer;
    the old generation is deleted. Generation 1 is the collections as named before generations existed."""
    from assistant import load_settings
    from index.pipeline import open_store
    from index.store import generation_names

    options = {"chroma_url": request.getfixturevalue("chroma_url"), "collection": "gen"} if server else {}
    settings = load_settings(data_dir=str(tmp_path / "data"), **options)
    reader = open_store(settings)
    old = fake_document(reader, tmp_path / "a.txt", document_text("a", 0, 3), commit=True)
    assert reader.generation == 1 and reader.chunks.name == settings.store.collection
    writer = open_store(settings)
    building = writer.new_generation()
    new = fake_document(building, tmp_path / "a.txt", document_text("a", 1, 4), commit=True)
    assert {e.doc_hash for e in reader.documents().values()} == {old}, "not visible before the switch"
    before = reader.version()
    writer.publish(building)
    assert {e.doc_hash for e in reader.documents().values()} == {new} and reader.version() != before
    assert len(reader.all_chunks()) == 4 and reader.generation == 2
    names = {c.name for c in reader.client.list_collections()}
    assert not names & set(generation_names(settings.store.collection, 1)), "the replaced generation is deleted"
    assert open_store(settings).generation == 2


@pytest.mark.slow  # kills a rebuild, against a `chroma run` child
def test_a_rebuild_killed_on_a_chroma_server_keeps_the_index(tmp_path, chroma_url, rng):
    """The same kill against a Chroma server: the pointer lives on the server, not in the data dir."""
    data, corpus = tmp_path / "data", tmp_path / "corpus"
    write_corpus(corpus, [f"doc{i:02d}" for i in range(20)], 0, 5)
    config = tmp_path / "brief.toml"
    config.write_text(f'chroma_url = "{chroma_url}"\ncollection = "killed"\n')
    window = brief_cli(data, "--config", str(config), "index", str(corpus), "--quiet").seconds
    before = snapshot(data, recover=False, config=config)
    delay = rng.uniform(window / 4, window / 2)
    killed = brief_cli(data, "--config", str(config), "index", str(corpus), "--rebuild", kill_after=delay).killed
    after = snapshot(data, recover=False, config=config)
    assert len(after["documents"]) == 20
    assert_sound(after, versions(before), f"rebuild on a Chroma server killed (killed: {killed})")


# Child entry point ----------------------------------------------------------------------------------------
def child_main(argv: list[str]) -> int:
    """`snapshot DATA_DIR [--recover]`: print the store as JSON. `service DATA_DIR OP...` with OP
    `upload:NAME:FILE` or `delete:NAME`: the document service, printing each OP's seconds. `cli ARGS...`: the
    `brief` command line, models loaded first. `service` and `cli` print LOADED when the operations begin."""
    command, rest = argv[0], argv[1:]
    if command == "cli":
        from kernel.embedder import load_embeddings
        from shells.cli import main

        load_embeddings()
        print(LOADED, flush=True)
        return main(rest)

    from assistant import load_settings
    from index.documents import add_document, recover_uploads, remove_document
    from index.pipeline import open_store

    config = next((a.split("=", 1)[1] for a in rest if a.startswith("--config=")), None)
    settings = load_settings(config, data_dir=rest[0])
    store = open_store(settings)
    if command == "snapshot":
        if "--recover" in rest:
            recover_uploads(store, settings)
        docs = store.documents()
        got = store.chunks.get(include=["metadatas", "documents"])
        chunks = [
            m | {"id": i, "text": t} for i, m, t in zip(got["ids"], got["metadatas"], got["documents"], strict=True)
        ]
        uploads = settings.store.uploads_dir.resolve()
        print(
            json.dumps(
                {
                    "documents": [e.__dict__ for e in docs.values()],
                    "chunks": chunks,
                    "uploads_dir": str(uploads),
                    "uploads": sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else [],
                    "collections": sorted(c.name for c in store.client.list_collections()),
                    "live_collections": [store.chunks.name, store.manifest.name],
                    "pointer": settings.store.collection + "__live",
                }
            )
        )
        return 0
    if command == "service":
        from kernel.embedder import load_embeddings

        recover_uploads(store, settings)
        if any(op.startswith("upload:") for op in rest[1:]):
            load_embeddings(settings.model.embedding_model)
        print(LOADED, flush=True)
        for op in rest[1:]:
            started = time.monotonic()
            kind, name, *source = op.split(":", 2)
            if kind == "upload":
                add_document(store, settings, name, Path(source[0]).read_bytes())
            else:
                remove_document(store, settings, str(settings.store.uploads_dir.resolve() / name))
            print(json.dumps({"op": f"{kind}:{name}", "seconds": time.monotonic() - started}), flush=True)
        return 0
    raise SystemExit(f"unknown child command {command}")


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))


@pytest.mark.slow  # runs `brief index` and `brief ask` in subprocesses
def test_a_torn_vector_index_is_rebuilt_from_the_documents_it_holds(tmp_path):
    """A process killed while Chroma writes its HNSW files leaves them torn (chroma-core/chroma#7238): every
    search then fails inside Chroma. `brief ask` says so without a traceback, and `brief index` rebuilds the
    vectors from what the manifest holds, losing no document. The tear is made as #7238's first shape, a
    vector segment cut short; 1,200 sentences put the vectors past Chroma's threshold for writing its files."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ledger.txt").write_text(
        "".join(f"Entry {i} of the ledger records {i * 7} crates of cocoa at wharf {i % 13}.\n" for i in range(1200))
    )
    (docs / "note.md").write_text("# Wharves\n\nThe harbour master of wharf 4 is Adaeze Okafor.\n")
    env = {"BRIEF_DATA_DIR": str(tmp_path / "data")}
    assert run_brief("index", str(docs), "--quiet", cwd=tmp_path, env=env).returncode == 0
    segments = [p.parent for p in (tmp_path / "data" / "chroma").glob("*/data_level0.bin")]
    torn = max(segments, key=lambda d: (d / "data_level0.bin").stat().st_size)
    for name, kept in (("data_level0.bin", 1 / 20), ("link_lists.bin", 1 / 10)):
        with open(torn / name, "r+b") as fh:
            fh.truncate(int((torn / name).stat().st_size * kept))

    asked = run_brief("ask", "Who is the harbour master of wharf 4?", cwd=tmp_path, env=env)
    assert asked.returncode == 1 and "Traceback" not in asked.stderr
    assert "cannot be searched" in asked.stderr and "brief index" in asked.stderr

    repaired = run_brief("index", str(docs), "--quiet", cwd=tmp_path, env=env)
    assert repaired.returncode == 0, repaired.stderr
    assert "rebuilt from the documents it holds: 2 added" in repaired.stderr
    assert "0 added, 0 updated, 2 unchanged" in repaired.stdout  # the rebuilt index is the files' own
    answer = run_brief("ask", "Who is the harbour master of wharf 4?", "--json", cwd=tmp_path, env=env)
    assert answer.returncode == 0, answer.stderr
    assert "Adaeze Okafor" in json.loads(answer.stdout)["answer"]
    ledger = run_brief("ask", "How many crates does entry 1100 of the ledger record?", "--json", cwd=tmp_path, env=env)
    assert "7700" in json.loads(ledger.stdout)["answer"]
