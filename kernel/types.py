"""Plain typed data the index writes and the assistant reads."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Chunk(BaseModel):
    """One sentence of a source document, with where it sits in the source file."""

    id: str
    text: str = Field(description="The sentence with whitespace normalised (what is embedded and shown).")
    source: str = Field(description="Path of the source file, as indexed.")
    section: str = ""
    start: int = Field(description="Character offset in the source text where the sentence starts.")
    end: int = Field(description="Character offset one past its end: source_text[start:end] is the quote.")
    position: int = Field(0, description="Index of the sentence within its document.")
    doc_hash: str = ""
