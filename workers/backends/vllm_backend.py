"""vLLM in-process on GPUs: `LLM.generate` with `SamplingParams(n=k)`, which shares each prompt's
prefill across its k samples. Installed only with the GPU extra (requirements/gpu.txt); the request
classes also import on a CPU (requirements/vllm-test.txt), which is how the tests check this module."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workers.backends.base import Generation, Message, PermanentBackendError, limited_window, per_prompt, score_regex

__all__ = ["INSTALL_HINT", "VllmBackend", "score_regex"]

INSTALL_HINT = "vLLM is not installed: it is the GPU extra, `pip install -r requirements/gpu.txt` on a CUDA host"


class VllmBackend:
    name = "vllm"

    def __init__(self, model: str, **engine_options: Any) -> None:
        try:
            from vllm import LLM
        except ImportError as exc:
            raise PermanentBackendError(f"{INSTALL_HINT} ({exc})") from exc
        # tensor_parallel_size etc. come from the model configuration's generation parameters.
        self._attach(LLM(model=model, **engine_options))

    @classmethod
    def from_engine(cls, llm: Any) -> VllmBackend:
        """A backend over an engine already built: anything with vLLM's `LLM.generate` and
        `LLM.get_tokenizer` (an `LLM` made by hand in a notebook, or the tests' stand-in)."""
        backend = cls.__new__(cls)
        backend._attach(llm)
        return backend

    def _attach(self, llm: Any) -> None:
        self.llm = llm
        self.tokenizer = llm.get_tokenizer()

    def context_window(self) -> int | None:
        engine = getattr(self.llm, "llm_engine", None)
        native = getattr(getattr(engine, "model_config", None), "max_model_len", None)
        return limited_window(self, int(native) if native else None)

    def prompt_tokens(self, prompt: Sequence[Message]) -> int | None:
        return len(self._prompt_ids(prompt))

    def _prompt_ids(self, prompt: Sequence[Message], suffix: str = "") -> list[int]:
        """The chat template's token ids for `prompt` (generation prompt added), then `suffix`'s."""
        encoded: Any = self.tokenizer.apply_chat_template(list(prompt), tokenize=True, add_generation_prompt=True)
        # transformers 5 returns a BatchEncoding here (return_dict defaults to True), 4.x a list.
        ids = [int(token) for token in (encoded["input_ids"] if hasattr(encoded, "keys") else encoded)]
        if suffix:
            ids += self.tokenizer.encode(suffix, add_special_tokens=False)
        return ids

    def _tokens(self, prompt: Sequence[Message], suffix: str = "") -> Any:
        """The prompt as a TokensPrompt: rendering to text and letting vLLM tokenize it again would
        add a second BOS token."""
        from vllm.inputs import TokensPrompt

        return TokensPrompt(prompt_token_ids=self._prompt_ids(prompt, suffix))

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
        from vllm.sampling_params import SamplingParams

        counts = per_prompt(n, len(prompts), name="n")
        seeds = per_prompt(seed, len(prompts), name="seed")
        # vLLM V1 splits an n > 1 request into n children and gives child j `seed + j`
        # (ParentRequest._get_child_sampling_params in vllm/v1/engine/parallel_sampling.py): the
        # protocol's "sample j of prompt i is drawn with seed[i] + j". max_tokens must always be set:
        # vLLM's default is 16.
        params = [
            SamplingParams(
                n=count, temperature=temperature, max_tokens=max_tokens, min_tokens=min_tokens, seed=prompt_seed
            )
            for count, prompt_seed in zip(counts, seeds, strict=True)
        ]
        outputs = self.llm.generate([self._tokens(prompt) for prompt in prompts], params, use_tqdm=False)
        return [
            [
                Generation(
                    text=completion.text,
                    prompt_tokens=len(output.prompt_token_ids or []),
                    completion_tokens=len(completion.token_ids),
                    finish_reason="length" if completion.finish_reason == "length" else "stop",
                )
                for completion in output.outputs
            ]
            for output in outputs
        ]

    def force_scores(
        self, prompt: Sequence[Message], text: str, *, n_responses: int, low: int = 1, high: int = 10
    ) -> str | None:
        """Append `Scores: \\boxed{` and decode greedily under vLLM's structured outputs, a regex that
        admits only n integers from low to high and the closing brace."""
        from vllm.sampling_params import SamplingParams, StructuredOutputsParams

        prefix = text.rstrip() + "\nScores: \\boxed{"
        regex = score_regex(n_responses, low=low, high=high)
        # Each score is at most one token per digit, and a separator at most two tokens.
        longest = max(len(str(low)), len(str(high)))
        params = SamplingParams(
            n=1,
            temperature=0.0,
            max_tokens=n_responses * (longest + 2) + 1,
            structured_outputs=StructuredOutputsParams(regex=regex),
        )
        [output] = self.llm.generate([self._tokens(prompt, prefix)], params, use_tqdm=False)
        tail = output.outputs[0].text
        return prefix + tail if tail.endswith("}") else None
