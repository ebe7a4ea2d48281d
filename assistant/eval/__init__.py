"""The evaluation workbench (`brief eval`): question sets, metrics, reports, SQuAD, the naive baseline and
the clients of a running server it scores."""
