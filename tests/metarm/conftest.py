"""A tiny real backbone for the meta RM's fast tests: a byte-level tokenizer with a ChatML template (no
pad token, like many chat models) and a randomly initialised two-layer Llama, saved as a plain folder."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from workers.grm.prompts import meta_rm_input
from workers.metarm import MetaExample

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def byte_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    model = Tokenizer(models.BPE(vocab={char: index for index, char in enumerate(alphabet)}, merges=[]))
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=model, eos_token="<|im_end|>", additional_special_tokens=["<|im_start|>"]
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_tiny_model(folder: Path, *, head_outputs: int | None = None, seed: int = 0) -> Path:
    """A tiny Llama on the byte tokenizer: a causal LM, or with head_outputs a sequence classifier."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

    tokenizer = byte_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        pad_token_id=None,
    )
    torch.manual_seed(seed)
    if head_outputs is not None:
        config.num_labels = head_outputs
    model = LlamaForCausalLM(config) if head_outputs is None else LlamaForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-backbone"))


def tiny_judgments(*, queries: int = 10, per_query: int = 4, seed: int = 0) -> list[MetaExample]:
    """Judgments whose critique names the response it prefers; correct when that is the first one."""
    rng = random.Random(seed)
    examples = []
    for query in range(queries):
        responses = [f"answer {query}-{index} " + "x" * rng.randint(0, 40) for index in range(3)]
        for sample in range(per_query):
            permutation = rng.sample(range(3), 3)
            chosen = sample % 3
            messages = meta_rm_input(
                context=[{"role": "user", "content": f"question {query} " + "q" * rng.randint(0, 60)}],
                responses=responses,
                permutation=permutation,
                principles="Accuracy (60%); Clarity (40%).",
                critique=f"Response {permutation.index(chosen) + 1} is best." + " ok" * rng.randint(0, 8),
            )
            examples.append(MetaExample(group=f"q{query}", messages=messages, label=int(chosen == 0)))
    return examples
