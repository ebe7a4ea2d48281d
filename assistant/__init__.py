"""brief: cited answers over a policy brief and any documents you add."""

from assistant.config import Settings, load_settings
from assistant.core import Assistant, QuestionError
from assistant.models import Answer, Chunk, Citation, Evidence, Timings, Turn

__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "Evidence",
    "QuestionError",
    "Settings",
    "Timings",
    "Turn",
    "load_settings",
]
