"""brief: cited answers over a policy brief and any documents you add."""

from assistant.answers import Answer, Citation, Evidence, Timings, Turn
from assistant.assistant import Assistant, QuestionError
from assistant.pipeline import Final, Pipeline, StreamEvent, Token
from kernel.settings import Settings, load_settings
from kernel.types import Chunk

__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "Evidence",
    "Final",
    "Pipeline",
    "QuestionError",
    "Settings",
    "StreamEvent",
    "Timings",
    "Token",
    "Turn",
    "load_settings",
]
