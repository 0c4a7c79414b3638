"""What judging takes and gives, as plain data: a query to judge, the run's judging settings, each
sample's result and each query's result. The engine produces them; the domain reads and stores them
without importing the engine or a backend."""

from __future__ import annotations

from dataclasses import dataclass

from workers.grm.parsing import Judgment
from workers.grm.voting import Vote

Message = dict[str, str]


@dataclass(frozen=True)
class QueryInput:
    key: str  # stable identity for seeding (the query's database id)
    context: list[Message]
    responses: list[str]
    best_index: int | None = None
    rating: int | None = None


@dataclass(frozen=True)
class Settings:
    template: str
    k: int
    temperature: float
    max_tokens: int
    seed: int
    hinted: bool = False
    force_scores: bool = False
    min_tokens: int = 0
    # The score range the template asks for: the parser accepts it and forcing admits only it.
    score_low: int = 1
    score_high: int = 10


@dataclass(frozen=True)
class SampleResult:
    sample_index: int
    permutation: list[int]
    raw_text: str
    judgment: Judgment
    scores: list[int] | None  # original order
    forced: bool
    hinted: bool
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    correct: bool | None


@dataclass(frozen=True)
class QueryResult:
    query: QueryInput
    samples: list[SampleResult]
    vote: Vote
    entropy: float
    correct: bool | None
