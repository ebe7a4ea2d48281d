"""An OpenAI-compatible model server (llama.cpp's, from the `xllamacpp` wheel) for `brief serve` replicas to
share: `llm_backend = "openai"`, `llm_base_url = "http://HOST:PORT/v1"`, `llm_model_name = "smollm2"`.

    .venv/bin/python deploy/model_server.py --port 8080 [--model FILE.gguf] [--parallel 2]
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

MODEL_NAME = "smollm2"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--model", help="a GGUF file (default: the bundled SmolLM2-135M)")
    parser.add_argument("--parallel", type=int, default=2, help="requests decoded at once (one per replica)")
    parser.add_argument("--context", type=int, default=2048, help="context tokens of each parallel slot")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import xllamacpp

    from assistant.llm import bundled_gguf_path

    params = xllamacpp.CommonParams()
    params.model.path = args.model or str(bundled_gguf_path())
    params.model_alias = {MODEL_NAME} if isinstance(params.model_alias, set) else MODEL_NAME
    params.n_ctx = args.context * args.parallel  # llama.cpp splits the context between the slots
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = [args.host]
    params.port = args.port
    params.verbosity = -1
    server = xllamacpp.Server(params)
    print(f"model server: {MODEL_NAME} at http://{args.host}:{args.port}/v1", file=sys.stderr, flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
