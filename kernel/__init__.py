"""The shared kernel: what the index and the assistant both need (settings, data types, the embedder). It
imports neither."""
