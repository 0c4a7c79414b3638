"""Pages for the rejective fine-tuning decisions (GRM_SPEC 6, issue 11): admins adjudicate the samples
their reviewers disagree on (from the query page or the list of held samples), and resample with the hint
the queries of a finished run that every sample got wrong."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from reviews.errors import ApplicationError
from reviews.forms import AdjudicateForm
from reviews.models import Run, Sample
from reviews.roles import admin_required, is_admin
from reviews.selectors import decisions as decision_selectors
from reviews.selectors import runs as run_selectors
from reviews.services import decisions as decision_services
from reviews.services import runs as run_services


class AdminHtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
    user: User  # behind admin_required


def _sample_or_404(sample_id: int) -> Sample:
    try:
        return decision_selectors.sample_for_decision(sample_id=sample_id)
    except Sample.DoesNotExist:
        raise Http404("No such sample") from None


def _query_url(sample: Sample) -> str:
    """The sample's card on its query page, in its run."""
    path = reverse("query-detail", args=[sample.query.dataset.name, sample.query_id])
    return f"{path}?run={sample.run_id}#sample-{sample.pk}"


@require_POST
@admin_required
def sample_adjudicate(request: AdminHtmxHttpRequest, sample_id: int) -> HttpResponse:
    """Decide a sample its reviewers disagree on. htmx gets the sample's decision fragment back (400 with the
    errors beside the fields); a plain form goes back to the query page with the outcome as a message."""
    sample = _sample_or_404(sample_id)
    form = AdjudicateForm(request.POST)
    errors: dict[str, list[str]] = {}
    if form.is_valid():
        try:
            decision_services.adjudicate(
                sample=sample,
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["note"],
                admin=request.user,
            )
        except ApplicationError as exc:
            errors = {exc.field or "sample": [exc.message]}
    else:
        errors = {field: [str(message) for message in field_errors] for field, field_errors in form.errors.items()}
    if not request.htmx:
        if errors:
            detail = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in errors.items())
            messages.error(request, f"Sample {sample.pk} was not adjudicated ({detail}).")
        else:
            messages.success(request, f"Sample {sample.pk} adjudicated.")
        return redirect(_query_url(sample))
    context = {"sample": _sample_or_404(sample_id), "errors": errors, "values": request.POST if errors else {}}
    return render(request, "reviews/_sample_decision.html", context, status=400 if errors else 200)


@admin_required
def adjudication(request: HttpRequest) -> HttpResponse:
    """The samples held across runs (`?run=` for one run), each with its reviewers' verdicts and the form."""
    run = request.GET.get("run", "")
    run_id = int(run) if run.isdecimal() and int(run) < 2**63 else None
    page = Paginator(decision_selectors.held_samples(run_id=run_id), 50).get_page(request.GET.get("page"))
    return render(request, "reviews/adjudication.html", {"page": page, "run_id": run_id})


@require_POST
@admin_required
def run_resample_hinted(request: AdminHtmxHttpRequest, run_id: int) -> HttpResponse:
    """Launch the hinted resampling of a finished run and go to it; a refusal is shown on the run page."""
    try:
        run = run_selectors.run_for_page(run_id=run_id)
    except Run.DoesNotExist:
        raise Http404("No such run") from None
    try:
        hinted = run_services.run_create_hinted(run=run, created_by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("run-detail", run_id=run.pk)
    n = hinted.queries_total
    messages.success(
        request,
        f"Run {hinted.pk} queued: one hinted sample for each of the {n} {'query' if n == 1 else 'queries'} "
        f"every sample of run {run.pk} got wrong.",
    )
    return redirect("run-detail", run_id=hinted.pk)


def hinted_context(request: HttpRequest, run: Run) -> dict[str, Any]:
    """The run page's hinted resampling: the run it resampled, the runs that resampled it, and for admins
    on a finished run the queries a new one would cover."""
    offer = is_admin(request.user) and run.status == Run.Status.DONE and not run.hinted
    return {
        "source": run.source_run,
        "resamples": list(run.resamples.order_by("id")),
        "candidates": run_selectors.hinted_candidates(run=run) if offer else None,
    }
