"""vLLM in-process on GPUs: `LLM.generate` with `SamplingParams(n=k)`, which shares each prompt's
prefill across its k samples. Installed only with the GPU extra (requirements/gpu.txt)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workers.backends.base import Generation, Message, PermanentBackendError, per_prompt

INSTALL_HINT = "vLLM is not installed: it is the GPU extra, `pip install -r requirements/gpu.txt` on a CUDA host"


def score_regex(n_responses: int) -> str:
    """The score tail a forced continuation may produce: n integers 1-10 and the closing brace."""
    number = r"(10|[1-9])"
    return number + r"(, " + number + r"){" + str(n_responses - 1) + r"}\}"


class VllmBackend:
    name = "vllm"

    def __init__(self, model: str, **engine_options: Any) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise PermanentBackendError(INSTALL_HINT) from exc
        self._sampling_params = SamplingParams
        # tensor_parallel_size etc. come from the model configuration's generation parameters.
        self.llm = LLM(model=model, **engine_options)
        self.tokenizer = self.llm.get_tokenizer()

    def _tokens(self, prompt: Sequence[Message], suffix: str = "") -> Any:
        """The prompt as token ids (a TokensPrompt): rendering to text and letting vLLM tokenize it
        again would add a second BOS token."""
        from vllm.inputs import TokensPrompt

        ids = list(self.tokenizer.apply_chat_template(list(prompt), tokenize=True, add_generation_prompt=True))
        if suffix:
            ids += self.tokenizer.encode(suffix, add_special_tokens=False)
        return TokensPrompt(prompt_token_ids=ids)

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
        counts = per_prompt(n, len(prompts), name="n")
        seeds = per_prompt(seed, len(prompts), name="seed")
        # vLLM V1 splits an n > 1 request into n children and gives child j `seed + j`
        # (ParentRequest._get_child_sampling_params in vllm/v1/engine/parallel_sampling.py): the
        # protocol's "sample j of prompt i is drawn with seed[i] + j". max_tokens must always be set:
        # vLLM's default is 16.
        params = [
            self._sampling_params(
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

    def force_scores(self, prompt: Sequence[Message], text: str, *, n_responses: int) -> str | None:
        from vllm.sampling_params import StructuredOutputsParams

        prefix = text.rstrip() + "\nScores: \\boxed{"
        params = self._sampling_params(
            n=1,
            temperature=0.0,
            max_tokens=4 * n_responses + 2,
            structured_outputs=StructuredOutputsParams(regex=score_regex(n_responses)),
        )
        [output] = self.llm.generate([self._tokens(prompt, prefix)], params, use_tqdm=False)
        tail = output.outputs[0].text
        return prefix + tail if tail.endswith("}") else None
