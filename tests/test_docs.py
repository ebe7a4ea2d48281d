"""The documentation stays true to the code: every setting has a description, and the settings table of
docs/configuration.md is what `Settings` renders now."""

from __future__ import annotations

from pathlib import Path

from kernel.settings import GROUPS, TABLE_END, TABLE_START, settings_block, settings_markdown

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"
REGENERATE = "python -m kernel.settings --markdown docs/configuration.md"


def test_every_setting_has_a_description():
    missing = [
        f"{group}.{name}"
        for group, part in GROUPS.items()
        for name, field in part.model_fields.items()
        if not field.description
    ]
    assert missing == [], f"give these fields a description= in kernel/settings.py: {missing}"


def test_settings_table_lists_every_setting_with_its_variable():
    table = settings_markdown()
    for part in GROUPS.values():
        for name in part.model_fields:
            assert f"| `{name}` | `BRIEF_{name.upper()}` |" in table


def test_configuration_doc_holds_the_settings_table_as_rendered_now():
    text = CONFIGURATION.read_text(encoding="utf-8")
    block = settings_block(text)
    assert block is not None, f"{CONFIGURATION.name} lost its markers {TABLE_START!r} ... {TABLE_END!r}"
    assert block == settings_markdown(), (
        f"the settings table in docs/configuration.md differs from kernel/settings.py; regenerate it: {REGENERATE}"
    )
