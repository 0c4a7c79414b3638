"""One score range from template to sample: the parser, the transformers backend's forcing grammar and
the guided-decoding regex accept the same scores (1..10 for the default template, 0..1 for the
single-response one)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.backends.base import score_regex
from workers.backends.transformers_backend import _ScoreList, _ScoreTokens
from workers.grm.parsing import parse_scores

RANGES = [(1, 10), (0, 1), (-2, 12)]


class CharacterTokenizer:
    """A tokenizer whose vocabulary is single characters plus a few multi-character pieces."""

    pieces = [*"0123456789-, }", "10", ", ", "1}", "x", "\n"]

    def __len__(self):
        return len(self.pieces)

    def decode(self, ids):
        return "".join(self.pieces[i] for i in ids)


def forced(score_list, choose):
    """Build a continuation one allowed token at a time, `choose` picking among the allowed pieces."""
    tokens = _ScoreTokens(CharacterTokenizer())
    produced = ""
    for _ in range(score_list.max_characters):
        choices = tokens.next_tokens(produced, score_list)
        assert choices, f"stuck after {produced!r}"
        produced += choose(sorted(choices.values()))
        if produced.endswith("}"):
            return produced
    raise AssertionError(f"no closing brace after {produced!r}")


@pytest.mark.parametrize(("low", "high"), RANGES)
@given(n=st.integers(1, 4), picks=st.lists(st.integers(0, 50), min_size=40, max_size=40))
def test_every_forced_continuation_parses_in_the_range(low, high, n, picks):
    stream = iter(picks)
    text = forced(_ScoreList(n, low=low, high=high), lambda pieces: pieces[next(stream) % len(pieces)])
    scores, _ = parse_scores("\\boxed{" + text, n, low=low, high=high)
    assert scores is not None
    assert all(low <= score <= high for score in scores)
    assert re.fullmatch(score_regex(n, low=low, high=high), text)


def test_the_zero_to_one_grammar():
    score_list = _ScoreList(1, low=0, high=1)
    assert [score_list.viable(text) for text in ["", "0", "1", "0}", "1}"]] == [True] * 5
    assert [score_list.viable(text) for text in ["2", "10", "01", "0,", "-", " 1", "1}}"]] == [False] * 7
    pair = _ScoreList(2, low=1, high=10)
    assert [pair.viable(text) for text in ["1", "10", "10,", "10, ", "10, 1", "10, 10}", "8,3}"]] == [True] * 7
    assert [pair.viable(text) for text in ["0", "11", "10,  ", "1, 2,", "1}", " 1"]] == [False] * 6


@pytest.mark.parametrize(("low", "high"), RANGES)
def test_the_regex_and_the_parser_agree_on_single_scores(low, high):
    for value in range(low - 3, high + 4):
        in_range = parse_scores(f"\\boxed{{{value}}}", 1, low=low, high=high)[0] is not None
        assert bool(re.fullmatch(score_regex(1, low=low, high=high), f"{value}}}")) == in_range
