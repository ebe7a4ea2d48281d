"""Prompt templates live as files in the `prompts` package (shipped as its data); this module only reads and
fills them."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def template(name: str) -> str:
    return (resources.files("prompts") / f"{name}.txt").read_text(encoding="utf-8").strip()


def render(name: str, **values: str) -> str:
    return template(name).format(**values)
