"""The onnxruntime embedder gives the vectors sentence-transformers gives on torch, and torch is the fallback."""

import numpy as np
import pytest

from kernel import embedder
from kernel.embedder import BUNDLED_MODEL, OnnxEmbeddings, export_onnx, load_embeddings, resolve_model_path

pytestmark = pytest.mark.slow  # loads the model on torch, and exports it to ONNX

TEXTS = [
    "Mali",
    "pg_dump is a utility for backing up a PostgreSQL database.",
    "20.3. Connections and Authentication › port (integer): The TCP port the server listens on; 5432 by default.",
    " ".join(["A sentence far longer than the model reads, cut at its 256 word pieces."] * 40),
]


def test_onnx_export_gives_torchs_vectors(tmp_path):
    pytest.importorskip("onnx")
    model_dir = resolve_model_path(BUNDLED_MODEL)
    onnx = OnnxEmbeddings(export_onnx(model_dir, tmp_path / "model.onnx"), model_dir)
    from langchain_huggingface import HuggingFaceEmbeddings

    reference = HuggingFaceEmbeddings(
        model_name=str(model_dir),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )
    torch_vectors = np.array(reference.embed_documents(TEXTS))
    # Batched together, the short texts are padded to the longest: padding must not change their vectors.
    onnx_vectors = np.array(onnx.embed_documents(TEXTS))
    assert onnx_vectors.shape == torch_vectors.shape == (len(TEXTS), 384)
    assert np.min(np.sum(onnx_vectors * torch_vectors, axis=1)) > 0.9999
    assert np.dot(onnx.embed_query(TEXTS[1]), torch_vectors[1]) > 0.9999


def test_without_an_export_the_torch_path_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(embedder, "onnx_file", lambda name: tmp_path / "absent.onnx")
    fallback = load_embeddings.__wrapped__(BUNDLED_MODEL)
    assert not isinstance(fallback, OnnxEmbeddings)
    assert embedder.embedding_dimension(fallback) == 384
