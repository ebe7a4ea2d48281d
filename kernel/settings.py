"""One configuration object for the whole assistant.

Values come, in order of precedence, from environment variables (``BRIEF_<FIELD>``), an optional TOML file
(``brief.toml`` in the working directory, or the file named by ``BRIEF_CONFIG``), and the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator

# Everything runs offline: no model hub, no telemetry. Set before any library that reads them is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

ENV_PREFIX = "BRIEF_"
DEFAULT_CONFIG_FILE = "brief.toml"


class ConfigError(ValueError):
    """Raised for a configuration value that cannot be used; the message says which and why."""


class Settings(BaseModel):
    """Every tunable of the assistant, with the defaults that run offline on a 2-core laptop."""

    data_dir: Path = Field(Path(".brief"), description="Where the index, feedback and uploads live.")
    collection: str = Field("brief", description="Chroma collection name.")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; embedded if unset.")

    embedding_model: str = Field("all-MiniLM-L6-v2", description="'all-MiniLM-L6-v2' (bundled) or a local path.")
    llm_backend: str = Field("local", description="'local' (GGUF in process), 'openai' or 'ollama'.")
    llm_model_path: str | None = Field(None, description="A GGUF file; the bundled SmolLM2-135M if unset.")
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible or Ollama endpoint.")
    llm_api_key: str | None = Field(None, description="API key for the remote endpoint.")
    llm_model_name: str = Field("local", description="Model name sent to a remote endpoint.")
    llm_threads: int = Field(2, ge=1, le=256)
    llm_context: int = Field(2048, ge=256)
    max_answer_tokens: int = Field(64, ge=8, le=2048)
    prompt_cache_mib: int = Field(
        512, ge=0, description="RAM for the local model's cache of read prompts (0: off); see prefill_sentences."
    )
    prefill_sentences: int = Field(
        100,
        ge=0,
        description="Indexed sentences the server has the local model read before it turns ready, so that a "
        "question citing one of them costs the model only the question's own words (0: none).",
    )

    dense_k: int = Field(20, ge=1, le=200, description="Sentences taken from the dense (Chroma) search.")
    lexical_k: int = Field(20, ge=1, le=200, description="Sentences taken from the BM25 search.")
    evidence_k: int = Field(
        2,
        ge=1,
        le=20,
        description="Top sentences the prompt is picked from: the model sees only those a quoted answer needs.",
    )
    max_generated_sources: int = Field(
        1,
        ge=1,
        le=20,
        description="Most evidence sentences the model is asked to combine; when a quoted answer needs more, "
        "the answer is that quote, at once. The bundled 135M model never wrote a two-source answer that passed "
        "the checks (scripts/answer_modes.py); raise it for a bigger model.",
    )
    coverage_k: int = Field(8, ge=1, le=50, description="Fused sentences searched for the question's words.")
    rrf_k: int = Field(10, ge=1, description="Reciprocal-rank-fusion constant (small: top ranks count most).")
    min_relevance: float = Field(0.20, ge=-1, le=1, description="Refuse below this dense cosine similarity.")
    uncovered_share: float = Field(
        0.25, ge=0, le=1, description="Share of a long question's words (beyond the first) that may go unmatched."
    )
    refusal_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Refuse a question the evidence covers when the answerability model's confidence is below "
        "this; unset: the threshold chosen with the model on its training articles.",
    )
    short_answers: bool = Field(
        True,
        description="Answer a question for a name, place, date or number with the span of the evidence that "
        "says it, without asking the model (off: let a larger model write every answer).",
    )
    term_match: float = Field(0.70, ge=0, le=1, description="Cosine at which a question word matches a word.")
    support_threshold: float = Field(0.75, ge=0, le=1, description="Share of an answer sentence's words cited.")
    completeness: float = Field(
        0.5, ge=0, le=1, description="Share of the best sentence's new words the model's answer must keep."
    )
    max_question_chars: int = Field(1000, ge=10, description="Longest question, and longest earlier user turn.")
    max_history_turns: int = Field(
        50, ge=0, description="Most earlier turns (user and assistant) a question may carry."
    )
    max_turn_chars: int = Field(20_000, ge=10, description="Longest earlier assistant turn.")
    max_request_bytes: int = Field(1 << 20, ge=1024, description="Largest JSON request body of the HTTP API.")
    max_document_bytes: int = Field(
        10 << 20,
        ge=1024,
        description="Largest file accepted for indexing, by upload or `brief index` (which --max-bytes overrides).",
    )

    @field_validator("llm_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in {"local", "openai", "ollama"}:
            raise ValueError("must be one of: local, openai, ollama")
        return value

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def feedback_file(self) -> Path:
        return self.data_dir / "feedback.jsonl"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


def load_settings(config_file: str | os.PathLike | None = None, **overrides) -> Settings:
    """Merge defaults, the TOML file, ``BRIEF_*`` environment variables and explicit overrides."""
    values: dict = {}
    path = Path(config_file or os.environ.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG_FILE)
    if path.is_file():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif config_file is not None:
        raise ConfigError(f"{path}: configuration file not found")
    for name in Settings.model_fields:
        env_value = os.environ.get(ENV_PREFIX + name.upper())
        if env_value is not None and env_value != "":
            values[name] = env_value
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc
