"""Counting SQL statements: the one helper for every test that pins how many queries a page or an API list runs.

with count_queries() as few:
    client.get(url)
add_rows(8)
with count_queries() as many:
    client.get(url)
assert_count_does_not_grow({"1 row": few, "9 rows": many})
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext


@dataclass
class CountedQueries:
    """The statements run inside one `count_queries()` block, filled in when the block ends."""

    sql: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.sql)

    def __str__(self) -> str:
        lines = "\n".join(f"  {number}. {sql}" for number, sql in enumerate(self.sql, start=1))
        return f"{self.count} queries:\n{lines}"


@contextmanager
def count_queries(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[CountedQueries]:
    """Capture the SQL run on one database connection inside the block (DEBUG or not)."""
    counted = CountedQueries()
    with CaptureQueriesContext(connections[using]) as captured:
        yield counted
    counted.sql = [query["sql"] for query in captured.captured_queries]


def assert_count_does_not_grow(counted: Mapping[str, CountedQueries]) -> None:
    """The same number of statements for every size of data (rows, samples, responses, a later page).

    `counted` maps a label naming the size to what `count_queries()` captured for it; on failure the
    message shows each size's count and the SQL of the smallest and the largest.
    """
    assert len(counted) >= 2, "compare at least two sizes"
    counts = {label: queries.count for label, queries in counted.items()}
    if len(set(counts.values())) == 1:
        return
    fewest = min(counted, key=lambda label: counted[label].count)
    most = max(counted, key=lambda label: counted[label].count)
    raise AssertionError(
        f"the query count changes with the size of the data: {counts}\n"
        f"{fewest}: {counted[fewest]}\n{most}: {counted[most]}"
    )
