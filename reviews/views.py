"""Pages of the dashboard. Views read through selectors and write through services."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django_htmx.middleware import HtmxDetails

from reviews import selectors
from reviews.models import Dataset, Query


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "reviews/home.html",
        {"datasets": selectors.datasets_overview(), "runs": selectors.runs_recent(limit=10)},
    )


@login_required
def dataset_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, name=name)
    subset = request.GET.get("subset", "")
    text = request.GET.get("q", "").strip()
    queries = selectors.dataset_queries(dataset=dataset, subset=subset, text=text)
    page = Paginator(queries, 50).get_page(request.GET.get("page"))
    context = {
        "dataset": dataset,
        "page": page,
        "subsets": selectors.dataset_subsets(dataset=dataset),
        "subset": subset,
        "text": text,
    }
    template = "reviews/_query_rows.html" if request.htmx else "reviews/dataset_detail.html"
    return render(request, template, context)


@login_required
def query_detail(request: HttpRequest, name: str, query_id: int) -> HttpResponse:
    try:
        query = selectors.query_with_responses(dataset_name=name, query_id=query_id)
    except Query.DoesNotExist:
        raise Http404("No such query in this dataset") from None
    return render(request, "reviews/query_detail.html", {"query": query, "dataset": query.dataset})
