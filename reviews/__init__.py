"""The domain app: datasets, runs, samples, reviews and releases."""
