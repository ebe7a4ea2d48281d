"""The shared kernel: what the index and the assistant both need (settings, data types, the embedder, the word
utilities). It imports neither."""
