"""The shared kernel: what the index and the assistant both need (settings, data types, the embedder, the word
utilities, the opt-in larger local models). It imports neither."""
