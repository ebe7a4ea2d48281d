"""The index: files to sentence chunks in Chroma (loaders, chunking, pipeline, store), the lexical cache of the
store (lexical), and the document service every shell goes through (documents). It imports only the kernel."""
