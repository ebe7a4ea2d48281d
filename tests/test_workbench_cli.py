"""`brief eval` end to end with the real models: SQuAD input, the naive baseline side by side, the reports,
--diff, --tune and --gate."""

import json

import pytest

from tests.support import run_brief

pytestmark = pytest.mark.slow  # runs `brief eval` in a subprocess, with the real models

SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Zorblax_River",
            "paragraphs": [
                {
                    "context": "The Zorblax River is 412 km long. It rises in the Kelmor Hills and flows into "
                    "Lake Varn. The river was first mapped by Ada Prill in 1871.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Who first mapped the Zorblax River?",
                            "is_impossible": False,
                            "answers": [{"text": "Ada Prill", "answer_start": 0}],
                        },
                        {
                            "id": "q2",
                            "question": "Where does the Zorblax River rise?",
                            "is_impossible": False,
                            "answers": [{"text": "the Kelmor Hills", "answer_start": 0}],
                        },
                        {
                            "id": "q3",
                            "question": "What is the population of Lake Varn's largest town?",
                            "is_impossible": True,
                            "answers": [],
                        },
                    ],
                },
                {
                    "context": "Lake Varn is fed by three rivers. Its water is cold all year.",
                    "qas": [
                        {
                            "id": "q4",
                            "question": "How many rivers feed Lake Varn?",
                            "is_impossible": False,
                            "answers": [{"text": "three", "answer_start": 0}],
                        },
                    ],
                },
            ],
        }
    ],
}


def test_squad_compare_reports_diff_tune_and_gate(tmp_path):
    squad = tmp_path / "tiny-squad.json"
    squad.write_text(json.dumps(SQUAD))
    out = tmp_path / "out"
    run = run_brief("eval", "--squad", str(squad), "--compare", "naive", "--out", str(out), "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert set(report["pipelines"]) == {"brief", "naive"}
    assert report["summary"]["items"] == 4 and report["comparison"]["f1"]["naive"] is not None
    summary = report["summary"]
    assert summary["hit@5"] == 1.0, "the gold paragraph is retrieved for every answerable question"
    first = next(i for i in report["items"] if i["id"] == "q1")
    assert first["short_answer"] == "Ada Prill" and first["scores"]["f1"] == 1.0
    assert summary["has_ans_f1"] > 0 and summary["no_ans_accuracy"] == 1.0
    html = (out / "report.html").read_text()
    assert "<svg" in html and "<script" not in html and "http" not in html.split("</style>")[1]
    assert "| metric | brief | naive | ratio |" in (out / "report.md").read_text()

    diff = run_brief("eval", "--diff", str(out / "report.json"), str(out / "report.json"), cwd=tmp_path)
    assert diff.returncode == 0 and "0 items flipped" in diff.stdout

    gate = tmp_path / "gate.toml"
    gate.write_text('[squad.min]\n"hit@5" = 1.0\nf1 = 0.99\n')
    gated = run_brief("eval", "--squad", str(squad), "--out", str(out), "--quiet", "--gate", str(gate), cwd=tmp_path)
    assert gated.returncode == 1 and "gate FAILED" in gated.stdout and "f1 =" in gated.stdout

    config = tmp_path / "brief.toml"
    config.write_text("")
    tuned = run_brief(
        "--config", str(config), "eval", "--squad", str(squad), "--tune", "--out", str(out), "--quiet", cwd=tmp_path
    )
    assert tuned.returncode == 0, tuned.stderr
    assert "refusal_threshold" in config.read_text() and (out / "tune.json").is_file()


def test_eval_bad_inputs_exit_2(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run_brief("eval", "--squad", str(broken), cwd=tmp_path)
    assert result.returncode == 2 and "SQuAD" in result.stderr and "Traceback" not in result.stderr
    result = run_brief("eval", "--pipeline", "fancy", cwd=tmp_path)
    assert result.returncode == 2 and "unknown pipeline" in result.stderr
    result = run_brief("eval", "--pipeline", "api", cwd=tmp_path)
    assert result.returncode == 2 and "--url" in result.stderr
