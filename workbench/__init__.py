"""The evaluation workbench (`brief eval`): question sets, metrics, reports, SQuAD and the naive baseline. It
scores any `Pipeline` of the answering core (the in-process `Assistant`, the clients of a running server in
`assistant.remote`) and imports the core, the index and the kernel, never the shells."""
