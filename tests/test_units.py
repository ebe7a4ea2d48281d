"""Edge cases of single units: configuration, loaders, scoring."""

from pathlib import Path

import pytest

from index.loaders import LoadError, load_document
from kernel.settings import ConfigError, load_settings
from workbench.evaluation import QuestionSetError, fact_present, fact_recall, load_questions, overlaps_gold


def test_settings_from_toml_env_and_overrides(tmp_path, monkeypatch):
    config = tmp_path / "brief.toml"
    config.write_text('evidence_k = 3\ndata_dir = "somewhere"\n')
    monkeypatch.setenv("BRIEF_DENSE_K", "7")
    settings = load_settings(config, data_dir=str(tmp_path / "d"))
    assert (settings.retrieval.evidence_k, settings.retrieval.dense_k, settings.store.data_dir) == (
        3,
        7,
        tmp_path / "d",
    )


def test_bad_configuration_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIEF_EVIDENCE_K", "many")
    with pytest.raises(ConfigError, match="evidence_k"):
        load_settings()
    monkeypatch.delenv("BRIEF_EVIDENCE_K")
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"   \n\n", "empty"),
        ("binary.txt", b"\x00\x01\x02abc", "binary"),
        ("latin1.txt", "café".encode("latin-1"), "UTF-8"),
        ("doc.docx", b"PK", "unsupported"),
        ("broken.pdf", b"%PDF-1.4 not really", "PDF"),
    ],
)
def test_loader_rejects_bad_files_with_a_reason(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError, match=message):
        load_document(path)


def test_html_loader_drops_scripts_and_keeps_text(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>T</title><script>alert(1)</script></head><body><h1>Rivers</h1>"
        "<p>The Zorblax river is 42 km long.</p></body></html>"
    )
    doc = load_document(path)
    assert "alert" not in doc.text and "The Zorblax river is 42 km long." in doc.text and doc.kind == "html"


def test_fact_matching_with_alternatives():
    assert fact_present("Chinese|China", "China's supply chains")
    assert not fact_present("uranium", "lithium only")
    assert fact_recall(["lithium", "uranium"], "lithium") == 0.5


def test_a_citation_hits_a_gold_quote_by_overlapping_span():
    text = "Alpha beta. Gamma delta."
    read = {"doc.txt": text}.get
    hit = {"source": "doc.txt", "start": 12, "end": 24}
    miss = {"source": "doc.txt", "start": 0, "end": 11}
    assert overlaps_gold(hit, ["Gamma delta"], read) == [0]
    assert overlaps_gold(miss, ["Gamma delta"], read) == []


def test_question_set_errors_name_the_line(tmp_path):
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "1", "question": "q", "answerable": true}\n{"id": 2}\n')
    with pytest.raises(QuestionSetError, match=":2:"):
        load_questions(bad)


def test_shipped_question_set_meets_its_shape():
    items = load_questions(Path(__file__).resolve().parent.parent / "questions" / "brief.jsonl")
    assert len(items) >= 40
    assert sum(not i.answerable for i in items) >= 10
    assert sum(bool(i.history) for i in items) >= 5
    brief = (Path(__file__).resolve().parent.parent / "seeds" / "us-mali-reengagement-brief.txt").read_text()
    assert all(q in brief for i in items for q in i.gold_quotes)


def test_a_training_cache_cut_by_a_kill_keeps_its_whole_lines_and_resumes_cleanly(tmp_path):
    """scripts/train/train_answerability.py appends to its caches a line at a time; a kill -9 in the middle of
    a write leaves a half line, which is dropped, so that the next run's first row starts a line of its own."""
    import importlib.util
    import json

    from tests.support import ROOT

    spec = importlib.util.spec_from_file_location("train_answerability", ROOT / "scripts/train/train_answerability.py")
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)
    cache = tmp_path / "features.jsonl"
    cache.write_text(json.dumps({"id": "a"}) + "\n" + '{"id": "b", "feat', encoding="utf-8")
    assert trainer.rows_done(cache) == {"a"}
    with cache.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"id": "b"}) + "\n")
    assert trainer.rows_done(cache) == {"a", "b"}
    assert trainer.whole_lines(tmp_path / "absent.jsonl") == []
