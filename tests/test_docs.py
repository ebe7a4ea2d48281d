"""The documentation stays true to the code: every setting has a description, the settings table of
docs/configuration.md is what `Settings` renders now, the README fits in 12 KiB, and every relative link in
README.md and docs/*.md points at a file that exists (and, with a #fragment, at one of its headings)."""

from __future__ import annotations

import re
from pathlib import Path

from kernel.settings import GROUPS, TABLE_END, TABLE_START, settings_block, settings_markdown

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"
REGENERATE = "python -m kernel.settings --markdown docs/configuration.md"
README_LIMIT = 12 * 1024
# [text](target) and ![alt](target), with an optional "title"; code spans and blocks are not links.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(markdown: Path) -> set[str]:
    """The fragments GitHub gives a file's headings: lower case, punctuation but hyphens and underscores dropped,
    spaces made hyphens."""
    text = re.sub(r"```.*?```", "", markdown.read_text(encoding="utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def broken_links(document: Path) -> list[str]:
    broken = []
    for target in LINK.findall(CODE.sub("", document.read_text(encoding="utf-8"))):
        if EXTERNAL.match(target):
            continue
        path, _, fragment = target.partition("#")
        linked = (document.parent / path) if path else document
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    return broken


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


def test_readme_is_at_most_12_kib():
    size = (ROOT / "README.md").stat().st_size
    assert size <= README_LIMIT, f"README.md is {size} bytes, over {README_LIMIT}: move the detail into docs/*.md"


def test_relative_links_point_at_existing_files():
    broken = {str(d.relative_to(ROOT)): found for d in documents() if (found := broken_links(d))}
    assert broken == {}


def test_the_link_check_finds_broken_links(tmp_path):
    """Links, images, titled links and fragments are read; external links and code are left alone."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A title (`x`)\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        '[ok](docs/a.md) [ok](docs/a.md#a-title-x) ![ok](docs/a.md "t") [ok](https://example.org/x) '
        "[gone](docs/b.md) ![gone](b.png) [no heading](docs/a.md#other) `[code](c.md)`\n"
        "```\n[block](d.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "docs/b.md (no such file)",
        "b.png (no such file)",
        "docs/a.md#other (no such heading)",
    ]
