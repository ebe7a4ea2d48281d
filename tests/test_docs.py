"""The documentation stays true to the code: every setting has a description, and the settings table renders
each with its environment variable."""

from __future__ import annotations

from kernel.settings import GROUPS, settings_markdown


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
