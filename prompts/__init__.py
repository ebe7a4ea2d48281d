"""The prompt templates, shipped as package data: `assistant.prompts` reads them with importlib.resources."""
