"""Finding queries: one filter set behind the search page and the API's query list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchVector, SearchVectorField
from django.db import connection
from django.db.models import Case, Count, Exists, Expression, OuterRef, Q, QuerySet, Subquery, TextField, Value, When
from django.db.models.functions import Coalesce, Concat
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from reviews.models import Annotation, Query, Response, Sample, Verdict
from reviews.selectors.datasets import subset_condition, text_condition

# A run's verdict on a query, as the search page and the run page's links filter them (needs a run).
VERDICTS = {
    "right": "voted right",
    "wrong": "voted wrong",
    "tied": "a tie broken by the seed",
    "unparsed": "with a sample whose scores could not be read",
}


@dataclass(frozen=True)
class SearchFilters:
    """Every filter is optional; a query must match all the given ones."""

    dataset: str = ""
    subset: str = ""
    run: int | None = None
    correct: bool | None = None  # the run's verdict on the query (needs `run`)
    verdict: str = ""  # one of VERDICTS (needs `run`)
    failure_mode: str = ""  # tagged on the query or one of its samples
    reviewer: str = ""  # annotated the query or one of its samples
    text: str = ""
    labelled: bool | None = None  # has a best response or a rating
    best: int | None = None
    rating: int | None = None
    reviewed: bool | None = None  # has an annotation on the query or one of its samples


def search_queries(filters: SearchFilters, *, with_responses: bool = False) -> QuerySet[Query]:
    """Queries matching every given filter, in id order, with their dataset. Pages get the response
    count (`response_count`); the API (`with_responses`) the responses themselves, prefetched."""
    queries = Query.objects.select_related("dataset").order_by("id")
    if with_responses:
        queries = queries.prefetch_related("responses")
    else:
        # A subquery, not a join: computed for the page's rows only, after the order and the limit.
        responses = Response.objects.filter(query=OuterRef("pk")).order_by().values("query").annotate(n=Count("pk"))
        queries = queries.annotate(response_count=Coalesce(Subquery(responses.values("n")), 0))
    if filters.dataset:
        queries = queries.filter(dataset__name=filters.dataset)
    if filters.subset:
        queries = queries.filter(subset_condition(filters.subset))
    if filters.labelled is not None:
        labelled = Q(best_index__isnull=False) | Q(rating__isnull=False)
        queries = queries.filter(labelled if filters.labelled else ~labelled)
    if filters.best is not None:
        queries = queries.filter(best_index=filters.best)
    if filters.rating is not None:
        queries = queries.filter(rating=filters.rating)
    if filters.run is not None:
        verdicts = Verdict.objects.filter(run_id=filters.run, query=OuterRef("pk"))
        if filters.correct is not None:
            verdicts = verdicts.filter(correct=filters.correct)
        if filters.verdict in ("right", "wrong"):
            verdicts = verdicts.filter(correct=filters.verdict == "right")
        elif filters.verdict == "tied":
            verdicts = verdicts.filter(tie_broken=True)
        elif filters.verdict == "unparsed":
            unparsed = Sample.objects.filter(run_id=filters.run, query=OuterRef("pk")).exclude(
                parse_status=Sample.ParseStatus.OK
            )
            queries = queries.filter(Exists(unparsed))
        queries = queries.filter(Exists(verdicts))
    annotations = Annotation.objects.filter(Q(query=OuterRef("pk")) | Q(sample__query=OuterRef("pk")))
    if filters.reviewed is not None:
        # Two subqueries, not joins: one SQL statement and no duplicate rows however many annotations.
        reviewed = Exists(Annotation.objects.filter(query=OuterRef("pk"))) | Exists(
            Annotation.objects.filter(sample__query=OuterRef("pk"))
        )
        queries = queries.filter(reviewed if filters.reviewed else ~reviewed)
    if filters.failure_mode:
        queries = queries.filter(Exists(annotations.filter(failure_modes__code=filters.failure_mode)))
    if filters.reviewer:
        queries = queries.filter(Exists(annotations.filter(reviewer__username=filters.reviewer)))
    if filters.text:
        queries = _text_search(queries, filters.text)
    return queries


def _text_search(queries: QuerySet[Query], text: str) -> QuerySet[Query]:
    """Queries whose id, user's query, responses, or judgments' principles and critiques match `text`.

    PostgreSQL: full-text search (English stemming; web-search syntax: "quoted phrases", or, -word)
    on the text vectors PostgreSQL stores beside each text (migration 0022): a rare word is found through
    their GIN indexes, a word in every item by reading the stored vectors, never by computing one per
    row. Responses and judgments give the sets of query ids they match. Order: an id match first, then a match in the
    user's query, then in a response, then only in a judgment; by id within each. Elsewhere (SQLite): a
    substring match in the same places, in id order."""
    if connection.vendor != "postgresql":
        in_responses = Exists(Response.objects.filter(query=OuterRef("pk"), text__icontains=text))
        in_judgments = Exists(
            Sample.objects.filter(Q(principles__icontains=text) | Q(critique__icontains=text), query=OuterRef("pk"))
        )
        return queries.filter(text_condition(text) | in_responses | in_judgments)
    words = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
    by_id = Q(external_id__icontains=text)
    in_prompt = Q(prompt_found=words)
    responses = Response.objects.annotate(found=StoredVector("text_search")).filter(found=words)
    judgments = Sample.objects.annotate(found=StoredVector("reasoning_search")).filter(found=words)
    found_in_responses = Q(pk__in=responses.values("query_id"))
    found_in_judgments = Q(pk__in=judgments.values("query_id"))
    rank = Case(
        When(by_id, then=Value(3)),
        When(in_prompt, then=Value(2)),
        When(found_in_responses, then=Value(1)),
        default=Value(0),
    )
    queries = queries.annotate(prompt_found=StoredVector("prompt_search"))
    matched = by_id | in_prompt | found_in_responses | found_in_judgments
    return queries.filter(matched).annotate(rank=rank).order_by("-rank", "id")


class StoredVector(Expression):
    """A text vector PostgreSQL keeps in a generated column of the queryset's own table (migration 0022),
    which the model does not declare; compared with a SearchQuery by `@@`, it uses its GIN index."""

    output_field = SearchVectorField()

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    # A list of parameters, as Django's own expressions give: its search lookup adds the query's to it.
    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        table = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        return f"{table}.{connection.ops.quote_name(self.column)}", []


@dataclass(frozen=True)
class Snippet:
    """Where a search matched in a query ("the user's query", "Response 2", "run 3, sample 1") and an
    excerpt with the matches marked: escaped untrusted text with <mark> elements only."""

    where: str
    html: SafeString


def search_snippets(*, query_ids: list[int], text: str, per_query: int = 3) -> dict[int, list[Snippet]]:
    """Up to `per_query` snippets for each of a results page's queries (three statements on PostgreSQL,
    whose ts_headline marks the matched words; elsewhere the substring, cut out in Python)."""
    found: dict[int, list[Snippet]] = {query_id: [] for query_id in query_ids}
    if not text or not query_ids:
        return found
    rows: list[tuple[int, str, str]] = []
    if connection.vendor == "postgresql":
        words = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)

        def headline(*fields: str) -> SearchHeadline:
            expression: Any = (
                fields[0]
                if len(fields) == 1
                else Concat(*fields[:1], Value(" "), *fields[1:], output_field=TextField())
            )
            return SearchHeadline(
                expression, words, config=SEARCH_CONFIG, start_sel=_START, stop_sel=_STOP, max_words=30,
                min_words=12, max_fragments=2, fragment_delimiter=" … ",
            )  # fmt: skip

        prompts = Query.objects.filter(pk__in=query_ids).annotate(found=SearchVector("prompt", config=SEARCH_CONFIG))
        for query_id, excerpt in prompts.filter(found=words).annotate(h=headline("prompt")).values_list("pk", "h"):
            rows.append((query_id, "the user's query", excerpt))
        responses = Response.objects.filter(query_id__in=query_ids).annotate(
            found=SearchVector("text", config=SEARCH_CONFIG)
        )
        for query_id, position, excerpt in (
            responses.filter(found=words).annotate(h=headline("text")).values_list("query_id", "position", "h")
        ):
            rows.append((query_id, f"Response {position + 1}", excerpt))
        samples = Sample.objects.filter(query_id__in=query_ids).annotate(
            found=SearchVector("principles", "critique", config=SEARCH_CONFIG)
        )
        judgments = (
            samples.filter(found=words)
            .annotate(h=headline("principles", "critique"))
            .order_by("query_id", "-run_id", "sample_index")
            .values_list("query_id", "run_id", "sample_index", "h")
        )
        for query_id, run_id, index, excerpt in judgments[: per_query * len(query_ids) * 4]:
            rows.append((query_id, f"run {run_id}, sample {index + 1}", excerpt))
    else:
        needle = text.lower()
        for query_id, prompt in Query.objects.filter(pk__in=query_ids).values_list("pk", "prompt"):
            rows.append((query_id, "the user's query", _cut(prompt, needle)))
        for query_id, position, body in Response.objects.filter(
            query_id__in=query_ids, text__icontains=text
        ).values_list("query_id", "position", "text"):
            rows.append((query_id, f"Response {position + 1}", _cut(body, needle)))
        judgments_q = Sample.objects.filter(
            Q(principles__icontains=text) | Q(critique__icontains=text), query_id__in=query_ids
        ).order_by("query_id", "-run_id", "sample_index")
        for query_id, run_id, index, principles, critique in judgments_q.values_list(
            "query_id", "run_id", "sample_index", "principles", "critique"
        )[: per_query * len(query_ids) * 4]:
            rows.append((query_id, f"run {run_id}, sample {index + 1}", _cut(f"{principles} {critique}", needle)))
    for query_id, where, excerpt in rows:
        if _START in excerpt and len(found[query_id]) < per_query:
            found[query_id].append(Snippet(where, _marked(excerpt)))
    return found


SEARCH_CONFIG = "english"
# Match markers: control characters ts_headline (and _cut) put around each match, replaced by <mark>
# once the excerpt is escaped. _cut drops any the text holds; on PostgreSQL one in the text itself
# would only add a stray <mark> (markup that does nothing else).
_START, _STOP = "\x02", "\x03"


def _marked(excerpt: str) -> SafeString:
    return mark_safe(escape(excerpt).replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308


def _cut(text: str, needle: str, around: int = 80) -> str:
    """The first occurrence of `needle` in `text` with `around` characters each side, the match marked."""
    text = text.replace(_START, "").replace(_STOP, "")
    at = text.lower().find(needle)
    if at < 0:
        return text[: 2 * around]
    start, end = max(0, at - around), min(len(text), at + len(needle) + around)
    return (
        ("…" if start else "")
        + text[start:at]
        + _START
        + text[at : at + len(needle)]
        + _STOP
        + text[at + len(needle) : end]
        + ("…" if end < len(text) else "")
    )


def full_text() -> bool:
    """Whether text search is PostgreSQL's full-text search (else a substring match)."""
    return connection.vendor == "postgresql"
