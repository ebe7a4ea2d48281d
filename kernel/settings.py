"""One configuration object for the whole assistant, in one part per concern (store, model, retrieval,
grounding, server, limits), so that each component can be given only the part it uses.

Values come, in order of precedence, from explicit arguments, environment variables (``BRIEF_<NAME>``), an
optional TOML file (``brief.toml`` in the working directory, or the file named by ``BRIEF_CONFIG``), and the
defaults below, loaded by pydantic-settings. Every setting keeps its one flat name (``BRIEF_EVIDENCE_K``,
``evidence_k = 3`` in TOML, ``load_settings(evidence_k=3)``); TOML may also group them in tables
(``[retrieval]``).
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

# Everything runs offline: no model hub, no telemetry. Set before any library that reads them is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

ENV_PREFIX = "BRIEF_"
DEFAULT_CONFIG_FILE = "brief.toml"

PROFILES = ("default", "quality")
# What the quality profile changes, each only where the setting was not given: the larger local model
# (`quality_model`, installed by `scripts/setup --model NAME`) and a context that holds a whole brief.
QUALITY_PROFILE = {"llm_context": 4096}
# And in the other parts: the model reads the passages and decides (assistant/model_reader.py): a small
# collection whole (`read_whole_chars`), else up to 15 retrieved ones, in document order, so that questions
# share the prompt's start and the model's prompt cache reads it once.
QUALITY_PARTS = {"retrieval": {"coverage_k": 15}, "grounding": {"model_reads": True}}
# Errors whose message is the whole story: said without the setting's name in front.
PLAIN_ERRORS = {"unknown_profile", "unknown_quality_model", "quality_model_missing"}


class ConfigError(ValueError):
    """Raised for a configuration value that cannot be used; the message says which and why."""


class StoreSettings(BaseModel):
    """Where the index lives: all `ChunkStore` needs."""

    data_dir: Path = Field(Path(".brief"), description="Where the index, feedback and uploads live.")
    collection: str = Field("brief", description="Chroma collection name.")
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server; embedded if unset.")

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def feedback_file(self) -> Path:
        return self.data_dir / "feedback.jsonl"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


class ModelSettings(BaseModel):
    """The embedder and the chat model."""

    embedding_model: str = Field("all-MiniLM-L6-v2", description="'all-MiniLM-L6-v2' (bundled) or a local path.")
    llm_backend: str = Field("local", description="'local' (GGUF in process), 'openai' or 'ollama'.")
    llm_model_path: str | None = Field(None, description="A GGUF file; the bundled SmolLM2-135M if unset.")
    llm_base_url: str | None = Field(None, description="Base URL of an OpenAI-compatible or Ollama endpoint.")
    llm_api_key: str | None = Field(None, description="API key for the remote endpoint.")
    llm_model_name: str = Field("local", description="Model name sent to a remote endpoint.")
    llm_threads: int = Field(2, ge=1, le=256, description="CPU threads the local model runs on.")
    llm_context: int = Field(2048, ge=256, description="The local model's context window, in tokens.")
    max_answer_tokens: int = Field(64, ge=8, le=2048, description="Most tokens the model writes for an answer.")
    prompt_cache_mib: int = Field(
        512, ge=0, description="RAM for the local model's cache of read prompts (0: off); see prefill_sentences."
    )

    profile: str = Field(
        "default",
        description="'default', or 'quality': the local model `quality_model` (installed by `scripts/setup "
        "--model NAME`) with a 4096-token context; settings given explicitly still win.",
    )
    quality_model: str = Field("qwen2.5-1.5b", description="The quality profile's model (kernel/local_models.py).")

    @field_validator("llm_backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in {"local", "openai", "ollama"}:
            raise ValueError("must be one of: local, openai, ollama")
        return value

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise PydanticCustomError(
                "unknown_profile", "unknown profile '{profile}'; choose default or quality", {"profile": value}
            )
        return value

    @model_validator(mode="after")
    def _apply_profile(self) -> ModelSettings:
        """The quality profile's values, where no source gave the setting; its model must be installed."""
        if self.profile != "quality":
            return self
        from kernel import local_models

        given = set(self.model_fields_set)
        for name, value in QUALITY_PROFILE.items():
            if name not in given:
                setattr(self, name, value)
        if self.llm_backend == "local" and "llm_model_path" not in given:
            if self.quality_model not in local_models.REGISTRY:
                raise PydanticCustomError(
                    "unknown_quality_model",
                    "unknown quality_model '{model}'; choose {choices}",
                    {"model": self.quality_model, "choices": " or ".join(sorted(local_models.REGISTRY))},
                )
            path = local_models.installed_path(self.quality_model)
            if path is None:
                raise PydanticCustomError(
                    "quality_model_missing",
                    "the quality profile needs the {model} model: run scripts/setup --model {model}",
                    {"model": self.quality_model},
                )
            self.llm_model_path = str(path)
        return self


class RetrievalSettings(BaseModel):
    """How many sentences each search takes and how the rankings are fused."""

    dense_k: int = Field(20, ge=1, le=200, description="Sentences taken from the dense (Chroma) search.")
    lexical_k: int = Field(20, ge=1, le=200, description="Sentences taken from the BM25 search.")
    evidence_k: int = Field(
        2,
        ge=1,
        le=20,
        description="Top sentences the prompt is picked from: the model sees only those a quoted answer needs.",
    )
    coverage_k: int = Field(8, ge=1, le=50, description="Fused sentences searched for the question's words.")
    rrf_k: int = Field(10, ge=1, description="Reciprocal-rank-fusion constant (small: top ranks count most).")


class GroundingSettings(BaseModel):
    """When to refuse, when to answer with a span, and what a model's answer must keep to be used."""

    max_generated_sources: int = Field(
        1,
        ge=1,
        le=20,
        description="Most evidence sentences the model is asked to combine; when a quoted answer needs more, "
        "the answer is that quote, at once. The bundled 135M model never wrote a two-source answer that passed "
        "the checks (docs/measurements.md: measured at commit 184064c); raise it for a bigger model.",
    )
    min_relevance: float = Field(0.20, ge=-1, le=1, description="Refuse below this dense cosine similarity.")
    refusal_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Refuse a question the evidence covers when the answerability model's confidence is below "
        "this; unset: the threshold chosen with the model on its training articles.",
    )
    short_answers: bool = Field(
        False,
        description="Answer a question for a name, place, date or number with the span of the evidence that "
        "says it, without asking the model, and make the quality reader's short answer the answer (it is reported "
        "in `short_answer` either way). Off by default: on "
        "chat-style questions both were right less often than the sentences they come from (docs/measurements.md"
        ", Short answers off).",
    )
    model_reads: bool = Field(
        False,
        description="The chat model reads the retrieved passages and decides (answer or not stated) and picks the "
        "passages and short answer (assistant/model_reader.py); for a larger model (the quality profile).",
    )
    reading_check_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="With model_reads, the reading check (assistant/reading_check.py) keeps the model's answer or "
        "the passage of retrieval's first three it does not cite that the model most says answers the question, "
        "whichever it judges likelier right, and withholds it (showing the closest passages) when that probability "
        "is below this; unset: the threshold chosen with the check (its training articles and brief-users dev); 0 "
        "keeps the model's answer unchecked: the model is not asked to confirm it and no passage is weighed.",
    )
    read_whole_chars: int = Field(
        6000,
        ge=0,
        description="With model_reads, when the indexed documents hold at most this many characters (and fit the "
        "model's context), the model reads all of them in document order instead of the retrieved passages: one "
        "prompt for every question, which the prompt cache reads once (0: the retrieved passages only).",
    )
    term_match: float = Field(0.70, ge=0, le=1, description="Cosine at which a question word matches a word.")
    support_threshold: float = Field(0.75, ge=0, le=1, description="Share of an answer sentence's words cited.")
    completeness: float = Field(
        0.5, ge=0, le=1, description="Share of the best sentence's new words the model's answer must keep."
    )


class ServerSettings(BaseModel):
    """What `brief serve` does before it turns ready, and the largest request body it reads."""

    prefill_sentences: int = Field(
        100,
        ge=0,
        description="Indexed sentences the server has the local model read before it turns ready, so that a "
        "question citing one of them costs the model only the question's own words (0: none).",
    )

    max_request_bytes: int = Field(1 << 20, ge=1024, description="Largest JSON request body of the HTTP API.")


class LimitsSettings(BaseModel):
    """What a question may hold, the same at every door (CLI, web chat, /api, /v1)."""

    max_question_chars: int = Field(1000, ge=10, description="Longest question, and longest earlier user turn.")
    max_history_turns: int = Field(
        50, ge=0, description="Most earlier turns (user and assistant) a question may carry."
    )
    max_turn_chars: int = Field(20_000, ge=10, description="Longest earlier assistant turn.")
    max_document_bytes: int = Field(
        10 << 20,
        ge=1024,
        description="Largest file accepted for indexing, by upload or `brief index` (which --max-bytes overrides).",
    )


GROUPS: dict[str, type[BaseModel]] = {
    "store": StoreSettings,
    "model": ModelSettings,
    "retrieval": RetrievalSettings,
    "grounding": GroundingSettings,
    "server": ServerSettings,
    "limits": LimitsSettings,
}
GROUP_OF: dict[str, str] = {name: group for group, part in GROUPS.items() for name in part.model_fields}


def nested(flat: dict) -> dict:
    """Settings given by their flat names (`evidence_k`) put in their part (`retrieval`); parts given whole
    (a TOML `[retrieval]` table) are kept, and unknown names are ignored, as they always were."""
    values: dict = {}
    for key, value in flat.items():
        if key in GROUPS and isinstance(value, dict):
            values.setdefault(key, {}).update(value)
        elif key in GROUP_OF:
            values.setdefault(GROUP_OF[key], {})[key] = value
    return values


# The configuration file `load_settings` reads; None outside it, where `Settings(...)` is the defaults and its
# arguments only.
_loading: ContextVar[Path | None] = ContextVar("brief_config_file", default=None)


class FlatEnvironment(PydanticBaseSettingsSource):
    """`BRIEF_<NAME>` for every setting by its flat name (`BRIEF_EVIDENCE_K`); an empty value is unset."""

    def get_field_value(self, field, field_name):  # the values are read whole in __call__
        return None, field_name, False

    def __call__(self) -> dict:
        return nested(
            {
                name: os.environ[ENV_PREFIX + name.upper()]
                for name in GROUP_OF
                if os.environ.get(ENV_PREFIX + name.upper())
            }
        )


class FlatTomlFile(TomlConfigSettingsSource):
    """The TOML file, its flat keys put in their parts."""

    def _read_files(self, files, deep_merge: bool = False) -> dict:
        return nested(super()._read_files(files, deep_merge))


class Settings(BaseSettings):
    """Every tunable of the assistant, with the defaults that run offline on a 2-core laptop."""

    model_config = SettingsConfigDict(extra="forbid")

    store: StoreSettings = StoreSettings()
    model: ModelSettings = ModelSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    grounding: GroundingSettings = GroundingSettings()
    server: ServerSettings = ServerSettings()
    limits: LimitsSettings = LimitsSettings()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        config_file = _loading.get()
        if config_file is None:
            return (init_settings,)
        return (init_settings, FlatEnvironment(settings_cls), FlatTomlFile(settings_cls, toml_file=config_file))

    @model_validator(mode="after")
    def _apply_profile_parts(self) -> Settings:
        """The quality profile's choices outside the model's part, where no source gave the setting."""
        if self.model.profile == "quality":
            for group, values in QUALITY_PARTS.items():
                part = getattr(self, group)
                unset = {name: value for name, value in values.items() if name not in part.model_fields_set}
                setattr(self, group, part.model_copy(update=unset))
        return self

    def replace(self, **flat) -> Settings:
        """A copy with some settings changed, by their flat names (`replace(collection="squad")`)."""
        parts = nested(flat)
        return self.model_copy(
            update={group: getattr(self, group).model_copy(update=values) for group, values in parts.items()}
        )


def load_settings(config_file: str | os.PathLike | None = None, **overrides) -> Settings:
    """Defaults, then the TOML file, then `BRIEF_*` environment variables, then explicit overrides (by their
    flat names; None is ignored)."""
    path = Path(config_file or os.environ.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG_FILE)
    if config_file is not None and not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    token = _loading.set(path)
    try:
        return Settings(**nested({k: v for k, v in overrides.items() if v is not None}))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        plain = [e["msg"] for e in exc.errors() if e["type"] in PLAIN_ERRORS]
        if plain:
            raise ConfigError("; ".join(plain)) from exc
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc
    finally:
        _loading.reset(token)


# The settings table of docs/configuration.md is generated from the fields above, between these markers;
# tests/test_docs.py fails when it differs from what `settings_markdown` renders now.
TABLE_START = "<!-- settings table: generated by `python -m kernel.settings --markdown docs/configuration.md` -->"
TABLE_END = "<!-- end of settings table -->"


def _default_markdown(name: str, value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if name.endswith("_bytes") and isinstance(value, int) and value % (1 << 20) == 0:
        return f"`{value}` ({value >> 20} MiB)"
    return f"`{value}`"


def settings_markdown() -> str:
    """Every setting as markdown, one table per part: its flat name, its environment variable, its default
    and its description, in the order of the fields above."""
    lines = []
    for group, part in GROUPS.items():
        summary = " ".join((part.__doc__ or "").split())
        lines += [f"**`{group}`**: {summary}", "", "| name | environment | default | description |"]
        lines.append("| --- | --- | --- | --- |")
        for name, field in part.model_fields.items():
            description = " ".join((field.description or "").split()).replace("|", "\\|")
            default = _default_markdown(name, field.default)
            lines.append(f"| `{name}` | `{ENV_PREFIX}{name.upper()}` | {default} | {description} |")
        lines.append("")
    return "\n".join(lines)


def settings_block(text: str) -> str | None:
    """What lies between the table's markers in a document (None without them)."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        return None
    return text[start + len(TABLE_START) : end].strip("\n") + "\n"


def with_settings_table(text: str) -> str:
    """The document with the table between its markers rendered anew."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ConfigError(f"the document has no '{TABLE_START}' ... '{TABLE_END}' markers")
    return text[: start + len(TABLE_START)] + "\n" + settings_markdown() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    """`python -m kernel.settings --markdown` prints the settings table; with a file, rewrites the table
    between the markers in it (docs/configuration.md)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kernel.settings", description=main.__doc__)
    parser.add_argument("--markdown", action="store_true", required=True, help="render the settings table")
    parser.add_argument("file", nargs="?", type=Path, help="a document whose table to rewrite in place")
    args = parser.parse_args(argv)
    if args.file is None:
        print(settings_markdown(), end="")
        return 0
    try:
        args.file.write_text(with_settings_table(args.file.read_text(encoding="utf-8")), encoding="utf-8")
    except (OSError, ConfigError) as exc:
        print(f"{args.file}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
