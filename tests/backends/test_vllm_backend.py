"""The vllm backend against vLLM's real request and result classes, with only the engine replaced.

`vllm.LLM` needs a GPU; its request classes import on a CPU (`make install-dev` installs them:
requirements/vllm-test.txt, then vLLM itself with --no-deps). The stand-in engine accepts only what
`LLM.generate` accepts, splits an n > 1 request into children with vLLM's own `ParentRequest` (so the
seed each sample is drawn with is vLLM's choice, not ours) and answers with real `RequestOutput`s.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from workers.backends.base import score_regex as base_score_regex
from workers.backends.vllm_backend import VllmBackend, score_regex

# Importing vLLM imports torch._inductor, whose own modules still use torch.jit.script_method.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
INSTALL = (
    "vLLM's request classes are not installed: run `make install-dev` (pip install -r requirements/vllm-test.txt, "
    "then pip install --no-deps vllm==<the version requirements/gpu.txt pins>)"
)
PROMPT = [{"role": "user", "content": "Judge these two responses."}]
OTHER_PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Judge this one."}]


@pytest.fixture(scope="module")
def vllm() -> ModuleType:
    """vLLM's package; a failure where the suite must run everything (CI, GRM_REQUIRE_SERVICES=1), else a skip."""
    if os.environ.get("GRM_REQUIRE_SERVICES"):
        import vllm

        return vllm
    return pytest.importorskip("vllm", reason=INSTALL)


@pytest.fixture(scope="module")
def smollm2_tokenizer() -> Any:
    """The default model's own tokenizer, read from the GGUF file the default model package ships."""
    from transformers import AutoTokenizer

    from workers.backends.default_model import DEFAULT_MODEL
    from workers.backends.transformers_backend import resolve_model

    path, options = resolve_model(DEFAULT_MODEL)
    return AutoTokenizer.from_pretrained(path, **options)


@pytest.fixture(scope="module")
def bos_tokenizer() -> Any:
    """A Llama-style tokenizer built offline: its chat template writes the BOS token and `encode` adds
    another, so a prompt rendered to text and tokenized again starts with two."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    words = ["<unk>", "<s>", "</s>", "[", "]", "user", "assistant", "system", "Judge", "Scores:", "\\boxed{", "7}"]
    core = Tokenizer(models.WordLevel({word: index for index, word in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}[ {{ m.role }} ] {{ m.content }} {% endfor %}"
        "{% if add_generation_prompt %}[ assistant ]{% endif %}"
    )
    return tokenizer


def template_ids(tokenizer: Any, prompt: list[dict[str, str]]) -> list[int]:
    ids = tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True, return_dict=False)
    return [int(token) for token in ids]


class FakeLLM:
    """Stands in for `vllm.LLM`: checks each request is what `LLM.generate` takes, draws every sample
    with the sampling parameters vLLM would give that child, and replies with real result objects.

    `reply(child_params, sample_index)` returns the sample's text and whether the engine stopped
    on its own (else it hit max_tokens)."""

    def __init__(self, vllm: ModuleType, tokenizer: Any, reply: Any) -> None:
        self.vllm = vllm
        self.tokenizer = tokenizer
        self.reply = reply
        self.calls: list[tuple[list[Any], list[Any]]] = []

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: Any, sampling_params: Any = None, *, use_tqdm: bool = True) -> list[Any]:
        from vllm.inputs import TokensPrompt
        from vllm.outputs import CompletionOutput, RequestOutput
        from vllm.sampling_params import SamplingParams
        from vllm.v1.engine import EngineCoreRequest
        from vllm.v1.engine.parallel_sampling import ParentRequest

        assert use_tqdm is False  # a worker's log is no terminal
        assert isinstance(prompts, list)
        # LLM.generate takes one SamplingParams for every prompt or a list of one per prompt.
        params_list = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        assert len(params_list) == len(prompts)
        self.calls.append((prompts, params_list))
        outputs = []
        for index, (prompt, params) in enumerate(zip(prompts, params_list, strict=True)):
            # TokensPrompt is a TypedDict: a plain dict with only its keys, the token ids among them.
            assert isinstance(prompt, dict)
            assert (
                TokensPrompt.__required_keys__
                <= set(prompt)
                <= TokensPrompt.__required_keys__ | (TokensPrompt.__optional_keys__)
            )
            assert all(isinstance(token, int) for token in prompt["prompt_token_ids"])
            assert type(params) is SamplingParams
            request = EngineCoreRequest(
                request_id=str(index),
                prompt_token_ids=prompt["prompt_token_ids"],
                mm_features=None,
                sampling_params=params,
                pooling_params=None,
                arrival_time=0.0,
                lora_request=None,
                cache_salt=None,
                data_parallel_rank=None,
                external_req_id=str(index),
            )
            parent = ParentRequest(request)
            completions = []
            for sample_index in range(params.n):
                _, child = parent.get_child_info(sample_index)
                text, stopped = self.reply(child, sample_index)
                token_ids = self.tokenizer.encode(text, add_special_tokens=False)[: child.max_tokens]
                completions.append(
                    CompletionOutput(
                        index=sample_index,
                        text=text,
                        token_ids=token_ids,
                        cumulative_logprob=None,
                        logprobs=None,
                        finish_reason="stop" if stopped else "length",
                    )
                )
            outputs.append(
                RequestOutput(
                    request_id=str(index),
                    prompt=None,
                    prompt_token_ids=list(prompt["prompt_token_ids"]),
                    prompt_logprobs=None,
                    outputs=completions,
                    finished=True,
                )
            )
        return outputs


def seed_reply(child: Any, sample_index: int) -> tuple[str, bool]:
    """A sample that says which seed it was drawn with; odd samples run out of tokens."""
    return f"Drawn with seed {child.seed}. Scores: \\boxed{{7, 3}}", sample_index % 2 == 0


def test_generate_sends_token_prompts_and_one_sampling_params_per_prompt(vllm, smollm2_tokenizer):
    from vllm.sampling_params import SamplingParams

    llm = FakeLLM(vllm, smollm2_tokenizer, seed_reply)
    backend = VllmBackend.from_engine(llm)
    out = backend.generate(
        [PROMPT, OTHER_PROMPT], n=[3, 2], temperature=0.7, max_tokens=64, seed=[100, 200], min_tokens=5
    )

    [(prompts, params)] = llm.calls
    assert [prompt["prompt_token_ids"] for prompt in prompts] == [
        template_ids(smollm2_tokenizer, PROMPT),
        template_ids(smollm2_tokenizer, OTHER_PROMPT),
    ]
    assert all(type(each) is SamplingParams for each in params)
    assert [(each.n, each.seed) for each in params] == [(3, 100), (2, 200)]
    assert {(each.temperature, each.max_tokens, each.min_tokens, each.structured_outputs) for each in params} == {
        (0.7, 64, 5, None)
    }
    # The protocol: sample j of prompt i is drawn with seed[i] + j, which vLLM's own split gives.
    assert [[generation.text.split(".")[0] for generation in generations] for generations in out] == [
        ["Drawn with seed 100", "Drawn with seed 101", "Drawn with seed 102"],
        ["Drawn with seed 200", "Drawn with seed 201"],
    ]
    first = out[0][0]
    assert first.text == "Drawn with seed 100. Scores: \\boxed{7, 3}"
    assert first.prompt_tokens == len(template_ids(smollm2_tokenizer, PROMPT))
    assert first.completion_tokens == len(smollm2_tokenizer.encode(first.text, add_special_tokens=False))
    assert [generation.finish_reason for generation in out[0]] == ["stop", "length", "stop"]


def test_one_seed_and_one_count_apply_to_every_prompt(vllm, smollm2_tokenizer):
    llm = FakeLLM(vllm, smollm2_tokenizer, seed_reply)
    out = VllmBackend.from_engine(llm).generate([PROMPT, PROMPT], n=2, temperature=1.0, max_tokens=16, seed=9)
    [(_, params)] = llm.calls
    assert [(each.n, each.seed, each.min_tokens) for each in params] == [(2, 9, 0), (2, 9, 0)]
    assert [len(generations) for generations in out] == [2, 2]


@pytest.mark.parametrize("tokenizer_fixture", ["smollm2_tokenizer", "bos_tokenizer"])
def test_prompt_ids_are_the_chat_templates_with_one_bos(vllm, request, tokenizer_fixture):
    tokenizer = request.getfixturevalue(tokenizer_fixture)
    llm = FakeLLM(vllm, tokenizer, seed_reply)
    VllmBackend.from_engine(llm).generate([PROMPT], n=1, temperature=0.5, max_tokens=8, seed=0)
    [([prompt], _)] = llm.calls
    ids = prompt["prompt_token_ids"]
    assert ids == template_ids(tokenizer, PROMPT)
    bos = tokenizer.bos_token_id
    assert ids[0] == bos
    assert ids[1] != bos
    if tokenizer_fixture == "bos_tokenizer":
        # What the token prompt avoids: vLLM tokenizing the rendered text adds a second BOS.
        text = tokenizer.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True)
        assert tokenizer.encode(text)[:2] == [bos, bos]


def forced_reply(tail: str, *, stopped: bool = True) -> Any:
    def reply(child: Any, sample_index: int) -> tuple[str, bool]:
        assert re.fullmatch(child.structured_outputs.regex, tail) or not stopped
        return tail, stopped

    return reply


@pytest.mark.parametrize(
    ("n_responses", "low", "high", "tail", "longest"),
    [(2, 1, 10, "7, 3}", "10, 10}"), (3, 1, 10, "10, 2, 9}", "10, 10, 10}"), (1, 0, 1, "0}", "1}")],
)
def test_force_scores_constrains_greedy_decoding_to_the_templates_range(
    vllm, smollm2_tokenizer, n_responses, low, high, tail, longest
):
    from vllm.sampling_params import SamplingParams, StructuredOutputsParams

    llm = FakeLLM(vllm, smollm2_tokenizer, forced_reply(tail))
    text = "Specific Criteria: accuracy.\nAnalysis: the first is right.  \n"
    forced = VllmBackend.from_engine(llm).force_scores(PROMPT, text, n_responses=n_responses, low=low, high=high)

    prefix = "Specific Criteria: accuracy.\nAnalysis: the first is right.\nScores: \\boxed{"
    assert forced == prefix + tail
    [([prompt], [params])] = llm.calls
    assert prompt["prompt_token_ids"] == template_ids(smollm2_tokenizer, PROMPT) + smollm2_tokenizer.encode(
        prefix, add_special_tokens=False
    )
    assert type(params) is SamplingParams
    assert (params.n, params.temperature) == (1, 0.0)
    assert type(params.structured_outputs) is StructuredOutputsParams
    assert params.structured_outputs.regex == score_regex(n_responses, low=low, high=high)
    # Room for the longest allowed list, however a tokenizer splits it (at most a token per character).
    assert params.max_tokens is not None
    assert params.max_tokens >= len(longest) >= len(smollm2_tokenizer.encode(longest, add_special_tokens=False))


def test_force_scores_gives_up_when_the_list_is_cut_short(vllm, smollm2_tokenizer):
    llm = FakeLLM(vllm, smollm2_tokenizer, forced_reply("7, ", stopped=False))
    assert VllmBackend.from_engine(llm).force_scores(PROMPT, "Analysis: fine.", n_responses=2) is None


def test_force_scores_adds_no_bos_before_the_forced_prefix(vllm, bos_tokenizer):
    llm = FakeLLM(vllm, bos_tokenizer, forced_reply("7}"))
    VllmBackend.from_engine(llm).force_scores(PROMPT, "Judge", n_responses=1)
    [([prompt], _)] = llm.calls
    assert prompt["prompt_token_ids"].count(bos_tokenizer.bos_token_id) == 1


def test_without_vllm_the_backend_fails_permanently_with_the_install_hint(monkeypatch):
    import sys

    from workers.backends.base import PermanentBackendError

    monkeypatch.setitem(sys.modules, "vllm", None)  # an import of vllm now raises ImportError
    with pytest.raises(PermanentBackendError, match=r"requirements/gpu\.txt"):
        VllmBackend("any-model")


def test_score_regex_is_the_protocols_one_rule():
    assert score_regex is base_score_regex


@pytest.mark.parametrize(("low", "high"), [(1, 10), (0, 1)])
@pytest.mark.parametrize("n_responses", [1, 2, 3])
def test_score_regex_admits_exactly_n_scores_in_range(n_responses, low, high):
    pattern = re.compile(score_regex(n_responses, low=low, high=high))

    def matches(scores: list[object]) -> bool:
        return pattern.fullmatch(", ".join(str(score) for score in scores) + "}") is not None

    for position in range(n_responses):
        filler = [low] * n_responses
        for value in range(low, high + 1):
            assert matches([*filler[:position], value, *filler[position + 1 :]]), (value, position)
        for outside in (low - 1, high + 1, f"0{high}", ""):
            assert not matches([*filler[:position], outside, *filler[position + 1 :]]), (outside, position)
    assert not matches([high] * (n_responses - 1))
    assert not matches([high] * (n_responses + 1))
    assert pattern.fullmatch(", ".join([str(high)] * n_responses)) is None  # the closing brace is required
    assert pattern.fullmatch(" " + ", ".join([str(high)] * n_responses) + "}") is None
    if n_responses > 1:
        assert pattern.fullmatch(",  ".join([str(high)] * n_responses) + "}") is None


def test_score_regex_for_one_response_and_the_binary_range_admits_only_0_and_1():
    pattern = re.compile(score_regex(1, low=0, high=1))
    assert [text for text in ("0}", "1}", "2}", "-1}", "01}", "10}", "}", "1") if pattern.fullmatch(text)] == [
        "0}",
        "1}",
    ]


def gpu_vllm_pin() -> str:
    [version] = re.findall(r"^vllm==([^\s;#]+)", (ROOT / "requirements" / "gpu.txt").read_text(), re.M)
    return version


def test_the_dockerfiles_gpu_stage_installs_requirements_gpu_txt():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", dockerfile, re.M | re.S))
    assert "-r requirements/gpu.txt" in stages["gpu"]


def test_the_installed_vllm_is_the_version_requirements_gpu_txt_pins(vllm):
    assert vllm.__version__ == gpu_vllm_pin()


@pytest.mark.slow
def test_install_dev_installs_gpu_txts_vllm_without_deps_and_reruns_when_the_test_requirements_change():
    # -n prints the commands without running them; -W treats the file as just changed.
    dry_run = subprocess.run(
        ["make", "-n", "-W", "requirements/vllm-test.txt", "install-dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-r requirements/vllm-test.txt" in dry_run
    assert f"install --no-deps vllm=={gpu_vllm_pin()}\n" in dry_run
