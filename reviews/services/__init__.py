"""Writes: every change to the domain goes through a function of one of these modules, by feature.

- `datasets`: importing queries, responses and labels; the dataset name rule; the demo
- `uploads`: receiving an upload's body, queueing and running its ingestion, the upload watchdog
- `configs`: the default prompt template and model configuration, model configurations by settings
- `runs`: the run parameters' limits, creating, claiming, storing judged batches, progress, cancel, resume
- `queues`: building review queues, reserving the next item, submitting and skipping
- `annotations`: a reviewer's decision on a sample or a query
- `decisions`: each sample's rejective fine-tuning decision (the rule, reviewers, adjudication)
- `rounds`: RFT rounds, their parents and runs
- `releases`: defining and building releases (JSON Lines and Parquet files, manifest, hashes)
- `metarm`: meta RM checkpoints (training, registering, the active one) and a run's meta scoring
- `accounts`: the admin account, users with roles, API tokens

Services raise `reviews.errors` and enqueue worker tasks through `reviews.enqueue`; they never call
the engine or a backend.
"""
