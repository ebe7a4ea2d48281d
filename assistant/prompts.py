"""Prompt templates live as files in prompts/; this module only reads and fills them."""

from __future__ import annotations

import functools
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@functools.cache
def template(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8").strip()


def render(name: str, **values: str) -> str:
    return template(name).format(**values)
