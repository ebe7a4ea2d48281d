"""The shells: the `brief` command line (`cli.py`), the HTTP API (`api/`) and the server that runs it with the
web chat (`server.py`; the chat itself is the top-level `ui` package). They use the answering core's public
names and reach documents through the document service."""
