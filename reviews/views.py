"""Pages of the dashboard. Views read through selectors and write through services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from reviews import run_services, selectors, services
from reviews.forms import ApiTokenForm, RunForm
from reviews.models import Dataset, Query, Run
from reviews.roles import admin_required


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class UserHtmxHttpRequest(HtmxHttpRequest):
    user: User  # behind login_required


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


@admin_required
def run_new(request: HttpRequest, name: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, name=name)
    form = RunForm(request.POST or None, dataset=dataset)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = run_services.run_create(
                dataset=dataset,
                model_config=data["model_config"],
                template=data["template"],
                k=data["k"],
                temperature=data["temperature"],
                max_tokens=data["max_tokens"],
                seed=data["seed"],
                batch_size=data["batch_size"],
                hinted=data["hinted"],
                force_scores=data["force_scores"],
                query_filter={"subset": data["subset"]} if data["subset"] else {},
                created_by=request.user if request.user.is_authenticated else None,
            )
        except run_services.RunInvalid as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Run {run.id} queued: {run.queries_total} queries, k = {run.k}.")
            return redirect("run-detail", run_id=run.id)
    return render(request, "reviews/run_new.html", {"dataset": dataset, "form": form})


def _run_or_404(run_id: int) -> Run:
    try:
        return selectors.run_for_page(run_id=run_id)
    except Run.DoesNotExist:
        raise Http404("No such run") from None


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    context = {"run": run, "accuracy": selectors.run_accuracy(run=run)}
    return render(request, "reviews/run_detail.html", context)


@login_required
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress fragment a running run's page polls; it stops polling once the run has ended."""
    run = _run_or_404(run_id)
    context = {"run": run, "accuracy": selectors.run_accuracy(run=run)}
    return render(request, "reviews/_run_progress.html", context)


@require_POST
@admin_required
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    if run_services.run_cancel(run=run):
        messages.info(request, f"Run {run.id} cancelled: batches not started yet are skipped.")
    else:
        messages.warning(request, f"Run {run.id} had already ended.")
    return redirect("run-detail", run_id=run.id)


@never_cache  # the answer to a create holds the raw token: no cache may keep it
@require_http_methods(["GET", "POST"])
@login_required
def api_tokens(request: UserHtmxHttpRequest) -> HttpResponse:
    """The user's own API tokens; a new token is shown in the answer to its creation and never again."""
    form = ApiTokenForm(request.POST or None)
    context: dict[str, object] = {}
    if request.method == "POST" and form.is_valid():
        token, raw = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        context.update(created=token, raw_token=raw)
        form = ApiTokenForm()
    context.update(form=form, tokens=selectors.api_tokens_of(user=request.user))
    template = "reviews/_tokens.html" if request.htmx else "reviews/tokens.html"
    return render(request, template, context)


@require_POST
@login_required
def api_token_revoke(request: UserHtmxHttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of the user's own tokens (someone else's is a 404, like a token that does not exist)."""
    token = get_object_or_404(selectors.api_tokens_of(user=request.user), id=token_id)
    services.api_token_revoke(token=token)
    token.refresh_from_db()
    if request.htmx:
        return render(request, "reviews/_token_row.html", {"token": token})
    messages.info(request, f"Token “{token.name}” revoked: requests with it now get 401.")
    return redirect("tokens")
