"""Synthetic sampled judgments of the demo queries, labelled by whether the critique argues for the
labelled-best response: a set whose correctness can be learnt only by reading the text."""

from __future__ import annotations

import json
import random
from pathlib import Path

from workers.grm.prompts import meta_rm_input, sample_permutation
from workers.metarm import MetaExample

DEMO = Path(__file__).resolve().parents[2] / "reviews" / "demo" / "demo.jsonl"

_CRITERIA = [
    "Accuracy",
    "Instruction adherence",
    "Helpfulness",
    "Clarity",
    "Completeness",
    "Safety",
    "Conciseness",
    "Relevance",
    "Correctness of reasoning",
    "Tone",
]
_PRAISE = [
    "answers the question directly and completely",
    "follows every instruction in the query",
    "is accurate and clearly organised",
    "addresses exactly what the user asked",
    "gives correct, useful detail without padding",
    "meets the criteria more closely than the rest",
]
_FAULTS = [
    "miss key requirements",
    "are less accurate or less complete",
    "fall short on the main instruction",
    "add errors or leave out what was asked",
]
_REFUSALS = [
    "Sorry, I can't help with that request.",
    "I apologize, but I am unable to answer this.",
    "Unfortunately I cannot assist with that.",
    "I'm not able to provide an answer to that question.",
]
_EVASIONS = [
    "It depends on many factors, so it is hard to say. You could look it up online.",
    "There are lots of opinions about this. Maybe ask someone who knows more.",
    "That is a good question. Everyone has their own view, so there is no single answer.",
    "Hmm, not sure. It could be anything really, it varies.",
]
_LAZY = ["idk lol", "just google it", "whatever works for you i guess", "no idea, sorry", "?? not sure what you mean"]


def demo_rows() -> list[dict]:
    return [json.loads(line) for line in DEMO.read_text().splitlines() if line.strip()]


def _poor_response(rng: random.Random, rows: list[dict], row: dict) -> str:
    kind = rng.choice(["refusal", "evasion", "lazy"])
    if kind == "refusal":
        return rng.choice(_REFUSALS)
    if kind == "evasion":
        return rng.choice(_EVASIONS)
    if kind == "lazy":
        return rng.choice(_LAZY)
    other = rng.choice([candidate for candidate in rows if candidate["id"] != row["id"]])
    return other["responses"][other["best"]].split("\n")[0]


def _quote(rng: random.Random, text: str) -> str:
    words = text.split()
    return " ".join(words[: rng.randint(6, 12)])


def _principles(rng: random.Random) -> str:
    chosen = rng.sample(_CRITERIA, rng.randint(2, 4))
    weights = [rng.choice([20, 25, 30, 35, 40]) for _ in chosen]
    return "; ".join(f"{name} ({weight}%)" for name, weight in zip(chosen, weights, strict=True)) + "."


def _critique(rng: random.Random, shown: int, quote: str) -> str:
    praise, faults = rng.choice(_PRAISE), rng.choice(_FAULTS)
    forms = [
        f'The other responses {faults}. Response {shown} is the best: it {praise}, saying "{quote}"',
        f'Comparing the candidates, the others {faults}, while Response {shown} {praise}: "{quote}"',
        f'The strongest answer is Response {shown}; it {praise}. It opens with "{quote}"',
        f'By contrast with the rest, which {faults}, Response {shown} {praise}. It says: "{quote}"',
    ]
    return rng.choice(forms)


def learnable_judgments(*, per_query: int = 8, seed: int = 0) -> list[MetaExample]:
    """per_query judgments of each demo query, half correct (the critique argues for the labelled best)
    and half incorrect (it argues for a planted poor response: a refusal, an evasion, a lazy or an
    off-topic reply); wording, quotes, principles and the shown order vary with a seeded generator."""
    rng = random.Random(seed)
    rows = demo_rows()
    examples = []
    for row in rows:
        best = row["best"]
        responses = list(row["responses"])
        poor = rng.choice([index for index in range(len(responses)) if index != best])
        responses[poor] = _poor_response(rng, rows, row)
        for sample_index in range(per_query):
            correct = sample_index % 2 == 0
            chosen = best if correct else poor
            permutation = sample_permutation(len(responses), seed=seed, query_key=row["id"], sample_index=sample_index)
            messages = meta_rm_input(
                context=row["context"],
                responses=responses,
                permutation=permutation,
                principles=_principles(rng),
                critique=_critique(rng, permutation.index(chosen) + 1, _quote(rng, responses[chosen])),
            )
            examples.append(MetaExample(group=row["id"], messages=messages, label=int(correct)))
    return examples


def shuffled_labels(examples: list[MetaExample], *, seed: int) -> list[MetaExample]:
    labels = [example.label for example in examples]
    random.Random(seed).shuffle(labels)
    return [
        MetaExample(group=e.group, messages=e.messages, label=label) for e, label in zip(examples, labels, strict=True)
    ]
