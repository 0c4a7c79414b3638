"""Pages of the dashboard. Each view validates its input with a form, calls a selector (reads) or a
service (writes), and renders the page or, for htmx, the fragment; domain errors become form errors."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from reviews import charts
from reviews.errors import AnnotationInvalid, ApplicationError
from reviews.forms import (
    AnnotateForm,
    ApiTokenForm,
    CheckpointRegisterForm,
    CheckpointTrainForm,
    CompareForm,
    GuidelinesForm,
    MetaScoreForm,
    QueueForm,
    RunForm,
    RunsFilterForm,
    SearchForm,
)
from reviews.models import Dataset, MetaRmCheckpoint, Query, QueueItem, ReviewQueue, Run, Sample
from reviews.roles import admin_required, is_admin, is_reviewer, reviewer_required
from reviews.selectors import accounts as account_selectors
from reviews.selectors import activity as activity_selectors
from reviews.selectors import datasets as dataset_selectors
from reviews.selectors import judgments as judgment_selectors
from reviews.selectors import metarm as metarm_selectors
from reviews.selectors import queues as queue_selectors
from reviews.selectors import reports as report_selectors
from reviews.selectors import runs as run_selectors
from reviews.selectors import search as search_selectors
from reviews.services import accounts as account_services
from reviews.services import metarm as metarm_services
from reviews.services import queues as queue_services
from reviews.services import runs as run_services
from reviews.views.decisions import hinted_context
from workers.grm.voting import default_k_meta


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class UserHtmxHttpRequest(HtmxHttpRequest):
    user: User  # behind login_required


@login_required
def home(request: UserHtmxHttpRequest) -> HttpResponse:
    """The datasets, recent runs, my queues and recent activity; a signed-in user without a role reads
    no data (as in the API) and is told to ask an admin for one."""
    if not is_reviewer(request.user):
        return render(request, "reviews/no_role.html")
    context = {
        "datasets": dataset_selectors.datasets_overview(),
        "runs": run_selectors.runs_recent(limit=10),
        "queues": queue_selectors.queues_overview(reviewer=request.user),
        "activity": activity_selectors.recent_activity(limit=12),
    }
    return render(request, "reviews/home.html", context)


@reviewer_required
def run_row(request: HttpRequest, run_id: int) -> HttpResponse:
    """One run's row on the home page; it polls itself while the run is active."""
    return render(request, "reviews/_run_row.html", {"run": _run_or_404(run_id)})


@reviewer_required
def dataset_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, name=name)
    subset = request.GET.get("subset", "")
    text = request.GET.get("q", "").strip()
    queries = dataset_selectors.dataset_queries(dataset=dataset, subset=subset, text=text)
    page = Paginator(queries, 50).get_page(request.GET.get("page"))
    context = {
        "dataset": dataset,
        "page": page,
        "subsets": dataset_selectors.dataset_subsets(dataset=dataset),
        "subset": subset,
        "text": text,
    }
    template = "reviews/_query_rows.html" if request.htmx else "reviews/dataset_detail.html"
    return render(request, template, context)


@reviewer_required
def query_detail(request: HttpRequest, name: str, query_id: int) -> HttpResponse:
    """A query, its responses and label, and one run's k judgments of it side by side (`?run=`)."""
    run_id = request.GET.get("run", "")
    try:
        page = dataset_selectors.query_page(
            dataset_name=name, query_id=query_id, run_id=int(run_id) if run_id.isdecimal() else None
        )
    except Query.DoesNotExist:
        raise Http404("No such query in this dataset") from None
    context = {"page": page, "query": page.query, "dataset": page.query.dataset}
    return render(request, "reviews/query_detail.html", context)


@reviewer_required
def sample_raw(request: HtmxHttpRequest, sample_id: int) -> HttpResponse:
    """A sample's raw output with what the parser read highlighted: what its folded card loads when
    the reader opens it (htmx), or a page of its own (the card's link, without scripts)."""
    try:
        sample, html = judgment_selectors.sample_raw(sample_id=sample_id)
    except Sample.DoesNotExist:
        raise Http404("No such sample") from None
    if request.htmx:
        return HttpResponse(html)
    return render(request, "reviews/sample_raw.html", {"sample": sample, "html": html})


@admin_required
def run_new(request: HttpRequest, name: str) -> HttpResponse:
    """The run form: which queries (a subset, ids, a random sample), the GRM's settings, and the
    estimate of what the run costs beside it (`run_estimate`, refreshed as the form changes)."""
    dataset = get_object_or_404(Dataset, name=name)
    form = RunForm(request.POST or None, dataset=dataset)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = run_services.run_create_from(
                dataset=dataset, params=data, created_by=request.user if request.user.is_authenticated else None
            )
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, f"Run {run.id} queued: {run.queries_total} queries x k = {run.k}, {run.samples_total} samples."
            )
            return redirect("run-detail", run_id=run.id)
    status = 400 if form.errors else 200
    return render(request, "reviews/run_new.html", {"dataset": dataset, "form": form}, status=status)


@admin_required
def run_estimate(request: HttpRequest, name: str) -> HttpResponse:
    """The run form's estimate for the values it holds now (a fragment the form asks for as it changes):
    queries x k, the token budget, the time at the model's measured rate, and warnings."""
    dataset = get_object_or_404(Dataset, name=name)
    form = RunForm(request.GET, dataset=dataset)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        data = form.cleaned_data
        try:
            query_filter = run_selectors.run_query_filter(
                dataset=dataset,
                subset=data["subset"],
                query_ids=data["query_ids"],
                sample_size=data["sample_size"],
                sample_seed=data["sample_seed"] or 0,
            )
        except ApplicationError as exc:
            context["error"] = exc.message
        else:
            context["estimate"] = run_selectors.run_estimate(
                queries=run_selectors.run_queries(dataset=dataset, query_filter=query_filter),
                k=data["k"],
                max_tokens=data["max_tokens"],
                model_config=data["model_config"],
                force_scores=data["force_scores"],
                template_chars=len(data["template"].text),
            )
    return render(request, "reviews/_run_estimate.html", context)


def _run_or_404(run_id: int) -> Run:
    try:
        return run_selectors.run_for_page(run_id=run_id)
    except Run.DoesNotExist:
        raise Http404("No such run") from None


def _form_error(form: Any, error: ApplicationError) -> None:
    """A domain error on the form: on the field it names when the form has one, else on the form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)


# The style slot of each curve on the charts (two runs on the compare page: 1-2 and 3-4).
CURVE_STYLES = {"voting": 1, "metarm": 2}


def _report_chart(page: report_selectors.RunReportPage) -> dict[str, Any] | None:
    references = []
    if page.chance is not None:
        label = "chance (0.5)" if page.report.metric == "roc_auc" else "chance (1 / responses)"
        references.append(charts.Reference(label, page.chance, "chance"))
    if page.greedy is not None:
        url = reverse("run-detail", args=[page.greedy.run.pk])
        references.append(charts.Reference(f"greedy run #{page.greedy.run.pk}", page.greedy.accuracy, "baseline", url))
    series = [charts.Series(curve.label, curve.points, CURVE_STYLES.get(curve.key, 1)) for curve in page.shown.curves]
    title = f"{page.report.metric_label} against k (log2 axis)"
    if page.subset is not None:
        title += f", subset {page.subset}"
    return charts.scaling_chart(series, references=references, y_label=page.report.metric_label, title=title)


def _meta_context(run: Run) -> dict[str, Any]:
    """The run's meta scoring: its state, and the scored samples while a worker scores them."""
    scoring = run.meta_status in (Run.MetaStatus.QUEUED, Run.MetaStatus.SCORING)
    return {
        "polling": run.meta_status in (Run.MetaStatus.WAITING, Run.MetaStatus.QUEUED, Run.MetaStatus.SCORING),
        "progress": metarm_selectors.run_meta_progress(run=run) if scoring else None,
        "k_meta_default": default_k_meta(run.k),
        "seen_in_training": (
            metarm_selectors.run_queries_seen_in_training(run=run) if run.meta_checkpoint_id is not None else 0
        ),
    }


def _run_page(request: HttpRequest, run: Run, *, meta_form: MetaScoreForm | None = None) -> HttpResponse:
    page = report_selectors.run_report_page(run=run, subset=request.GET.get("subset", ""))
    if meta_form is None and is_admin(request.user):
        meta_form = MetaScoreForm(run=run)
    context = {
        "run": run,
        "accuracy": run_selectors.run_accuracy(run=run),
        "report": page.report,
        "chart_subset": page.subset,
        "shown": page.shown,
        "chart": _report_chart(page),
        "chance": page.chance,
        "greedy": page.greedy,
        "bias": page.report.bias,
        "meta": _meta_context(run),
        "meta_form": meta_form,
        "hinted": hinted_context(request, run),
        "verdict_counts": run_selectors.run_verdict_counts(run=run),
        "skipped": run_selectors.run_skipped(run=run) if run.skipped_queries else [],
        "error_log": run_selectors.run_error_log(run=run),
        "verdicts": search_selectors.VERDICTS,
        "subsets": dataset_selectors.dataset_subsets(dataset=run.dataset),
    }
    return render(request, "reviews/run_detail.html", context)


@reviewer_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run: its progress, the scaling curves (Voting@k, MetaRM@k) with their bands, meta scoring, bias."""
    return _run_page(request, _run_or_404(run_id))


@reviewer_required
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress fragment a running run's page polls; it stops polling once the run has ended."""
    run = _run_or_404(run_id)
    # The header's status badge comes along out of band: one status everywhere on the page.
    context = {
        "run": run,
        "accuracy": run_selectors.run_accuracy(run=run),
        "error_log": run_selectors.run_error_log(run=run),
        "oob": True,
    }
    return render(request, "reviews/_run_progress.html", context)


@reviewer_required
def run_meta(request: HttpRequest, run_id: int) -> HttpResponse:
    """The meta-scoring fragment the run page polls while the run waits for, or is in, meta scoring."""
    run = _run_or_404(run_id)
    context = {"run": run, "accuracy": run_selectors.run_accuracy(run=run), "meta": _meta_context(run)}
    return render(request, "reviews/_run_meta.html", context)


@require_POST
@admin_required
def run_meta_score(request: UserHtmxHttpRequest, run_id: int) -> HttpResponse:
    """Ask for MetaRM@k on the run; errors are shown on the run page with the input kept."""
    run = _run_or_404(run_id)
    form = MetaScoreForm(request.POST, run=run)
    if form.is_valid():
        try:
            run = metarm_services.run_meta_request(
                run=run, checkpoint=form.cleaned_data["checkpoint"], k_meta=form.cleaned_data["k_meta"]
            )
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            assert run.meta_checkpoint is not None
            waiting = " once sampling ends" if run.meta_status == Run.MetaStatus.WAITING else ""
            messages.success(request, f"Run {run.id} will be meta-scored by {run.meta_checkpoint.name}{waiting}.")
            return redirect("run-detail", run_id=run.id)
    return _run_page(request, _run_or_404(run_id), meta_form=form)


@require_POST
@admin_required
def run_report_recompute(request: HttpRequest, run_id: int) -> HttpResponse:
    """Compute the run's report again (an old-format report, or one from before new meta scores)."""
    run = _run_or_404(run_id)
    try:
        run_services.run_report_request(run=run)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, f"Run {run.id}'s report is being computed again; reload in a moment.")
    return redirect("run-detail", run_id=run.id)


@reviewer_required
def run_report_json(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's stored report, as it is, for download."""
    run = _run_or_404(run_id)
    response = JsonResponse(run.report, safe=False, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="run-{run.id}-report.json"'
    return response


@reviewer_required
def run_report_csv(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's curves as CSV: one row per curve x subset x k."""
    run = _run_or_404(run_id)
    response = HttpResponse(report_selectors.report_csv(run.report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.id}-report.csv"'
    return response


def _compare_chart(comparison: report_selectors.RunComparison) -> dict[str, Any] | None:
    series = []
    for offset, (name, run) in enumerate((("A", comparison.run_a), ("B", comparison.run_b))):
        report = report_selectors.parse_report(run.report)
        for curve in report.overall.curves:
            label = f"{name} (#{run.pk}) {curve.label}"
            series.append(charts.Series(label, curve.points, 2 * offset + CURVE_STYLES.get(curve.key, 1)))
    metric = report_selectors.parse_report(comparison.run_a.report).metric_label
    return charts.scaling_chart(series, y_label=metric)


@reviewer_required
def run_compare(request: HttpRequest) -> HttpResponse:
    """Two runs of one dataset (`?a=ID&b=ID`): their curves on one chart, how their verdicts agree, and
    the queries whose verdict flipped. Without b: a choice among the other runs of a's dataset."""
    form = CompareForm(request.GET if request.GET else None)
    context: dict[str, Any] = {"form": form}
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
        run_a = form.cleaned_data.get("a")
        if run_a is not None:  # only B is wrong: offer the choice of B again
            context.update(run_a=run_a, candidates=report_selectors.compare_candidates(run=run_a))
    elif form.is_bound:
        run_a, run_b = form.cleaned_data["a"], form.cleaned_data["b"]
        context.update(run_a=run_a, run_b=run_b, candidates=report_selectors.compare_candidates(run=run_a))
        if run_b is not None:
            try:
                comparison = report_selectors.runs_compare(run_a=run_a, run_b=run_b, page=request.GET.get("page"))
            except ApplicationError as exc:
                context["error"] = exc.message
                status = 400
            else:
                context.update(comparison=comparison, chart=_compare_chart(comparison))
    return render(request, "reviews/run_compare.html", context, status=status)


@reviewer_required
def runs(request: HttpRequest) -> HttpResponse:
    """Every run, newest first, filtered by dataset, model, status and round; two ticked runs open the
    compare page."""
    chosen = request.GET.getlist("compare")
    if chosen:
        if len(chosen) == 2 and all(value.isdecimal() for value in chosen):
            return redirect(f"{reverse('run-compare')}?a={chosen[0]}&b={chosen[1]}")
        messages.error(request, f"Tick two runs to compare ({len(chosen)} ticked).")
    form = RunsFilterForm(request.GET)
    found = Run.objects.none()
    if form.is_valid():
        data = form.cleaned_data
        filters = run_selectors.RunFilters(
            dataset=data["dataset"].name if data["dataset"] else "",
            model=data["model"].name if data["model"] else "",
            status=data["status"],
            round=data["round"].number if data["round"] else None,
        )
        found = run_selectors.runs_filtered(filters)
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    query_string = request.GET.copy()
    for name in ("page", "compare"):
        query_string.pop(name, None)
    context = {"form": form, "page": page, "query_string": query_string.urlencode()}
    return render(request, "reviews/runs.html", context, status=200 if form.is_valid() else 400)


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
        token, raw = account_services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        context.update(created=token, raw_token=raw)
        form = ApiTokenForm()
    context.update(form=form, tokens=account_selectors.api_tokens_of(user=request.user))
    template = "reviews/_tokens.html" if request.htmx else "reviews/tokens.html"
    return render(request, template, context)


@require_POST
@login_required
def api_token_revoke(request: UserHtmxHttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of the user's own tokens (someone else's is a 404, like a token that does not exist)."""
    token = get_object_or_404(account_selectors.api_tokens_of(user=request.user), id=token_id)
    account_services.api_token_revoke(token=token)
    token.refresh_from_db()
    if request.htmx:
        return render(request, "reviews/_token_row.html", {"token": token})
    messages.info(request, f"Token “{token.name}” revoked: requests with it now get 401.")
    return redirect("tokens")


# --- Review queues


def _queue_or_404(queue_id: int) -> ReviewQueue:
    try:
        return queue_selectors.queue_for_review(queue_id=queue_id)
    except ReviewQueue.DoesNotExist:
        raise Http404("No such queue") from None


@reviewer_required
def queues(request: UserHtmxHttpRequest) -> HttpResponse:
    return render(request, "reviews/queues.html", {"queues": queue_selectors.queues_overview(reviewer=request.user)})


@admin_required
def queue_new(request: UserHtmxHttpRequest) -> HttpResponse:
    """A new queue, from a run or a dataset (`?source=run:ID` or `dataset:NAME`; the run page's
    "Review this run" fills it in); choosing another source reloads the form with its subsets."""
    source = request.GET.get("source", "")
    form = QueueForm(request.POST or None, source=source)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = data["source"]
        run = chosen if isinstance(chosen, Run) else None
        try:
            queue = queue_services.queue_create(
                name=data["name"],
                description=data["description"],
                guidelines=data["guidelines"],
                dataset=run.dataset if run is not None else chosen,
                run=run,
                filters=queue_services.QueueFilters(
                    subset=data["subset"], correct=data.get("correct"), parse_status=data.get("parse_status", "")
                ),
                priority=data["priority"],
                reviewers_per_item=data["reviewers_per_item"],
                reservation_seconds=60 * data["reservation_minutes"],
                created_by=request.user,
            )
        except ApplicationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Queue {queue.name} ready: {queue.item_count} items.")
            return redirect("queues")
    template = "reviews/_queue_form.html" if request.htmx else "reviews/queue_new.html"
    return render(request, template, {"form": form}, status=400 if form.errors else 200)


def _review_context(
    queue: ReviewQueue, user: User, item: QueueItem | None, submitted: QueryDict | None = None, **extra: object
) -> dict[str, object]:
    """The review fragment's context. `submitted`: a refused submission's fields, shown again as the
    reviewer left them (else the form shows their earlier annotation of the item, if any)."""
    review = queue_selectors.review_item(queue=queue, item=item, reviewer=user) if item is not None else None
    progress = queue_selectors.queue_progress(queue=queue, reviewer=user)
    return {
        "queue": queue,
        "review": review,
        "values": _annotate_values(review, submitted) if review is not None else None,
        "can_undo": progress["can_undo"],
        "inline_errors": ("failure_modes", "corrected_scores", "note"),  # shown beside their fields
        "progress": progress,
        **extra,
    }


def _annotate_values(review: queue_selectors.ReviewItem, submitted: QueryDict | None) -> dict[str, object]:
    """What the annotation form's fields hold: the refused submission's, or the reviewer's earlier annotation."""
    if submitted is not None:
        return {
            "failure_modes": set(submitted.getlist("failure_modes")),
            "corrected_scores": submitted.getlist("corrected_scores"),
            "note": submitted.get("note", ""),
        }
    mine = review.mine
    return {
        "failure_modes": {mode.code for mode in mine.failure_modes.all()} if mine else set(),
        "corrected_scores": [str(score) for score in mine.corrected_scores or []] if mine else [],
        "note": mine.note if mine else "",
    }


def _review_answer(request: UserHtmxHttpRequest, context: dict[str, object], status: int = 200) -> HttpResponse:
    """The review fragment for htmx; the whole page for a plain form post (no script, or before htmx
    took over the form), so an answer with errors still has the site's styles, navigation and keys."""
    template = "reviews/_review_item.html" if request.htmx else "reviews/queue_review.html"
    return render(request, template, context, status=status)


@never_cache
@reviewer_required
def queue_review(request: UserHtmxHttpRequest, queue_id: int) -> HttpResponse:
    """The reviewer's current item of the queue (taken and reserved if they hold none)."""
    queue = _queue_or_404(queue_id)
    item = queue_services.queue_next(queue=queue, reviewer=request.user)
    template = "reviews/_review_item.html" if request.htmx else "reviews/queue_review.html"
    return render(request, template, _review_context(queue, request.user, item))


def _item_or_404(queue_id: int, item_id: int, reviewer: User) -> QueueItem:
    """The item of an active queue, with its queue and `held`: whether the reviewer may annotate it now."""
    try:
        return queue_selectors.queue_item_for(queue_id=queue_id, item_id=item_id, reviewer=reviewer)
    except QueueItem.DoesNotExist:
        raise Http404("No such item in this queue") from None


@never_cache
@require_POST
@reviewer_required
def queue_annotate(request: UserHtmxHttpRequest, queue_id: int, item_id: int) -> HttpResponse:
    """Annotate an item and answer with the next one (one request; a repeat stores one annotation)."""
    item = _item_or_404(queue_id, item_id, request.user)
    queue = item.queue
    if not item.held:  # type: ignore[attr-defined]
        following = queue_services.queue_next(queue=queue, reviewer=request.user)
        message = "That item is not reserved for you (your reservation may have expired); here is your next one."
        context = _review_context(queue, request.user, following, errors={"item": [message]})
        return _review_answer(request, context, status=409)
    form = AnnotateForm(request.POST)
    if not form.is_valid():
        context = _review_context(queue, request.user, item, request.POST, errors=form.errors)
        return _review_answer(request, context, status=400)
    data = form.cleaned_data
    corrected = [value.strip() for value in request.POST.getlist("corrected_scores")]
    try:
        queue_services.queue_submit(
            item=item,
            reviewer=request.user,
            decision=data["decision"],
            failure_modes=data["failure_modes"],
            note=data["note"],
            corrected_scores=_corrected_scores(corrected),
            time_spent_ms=data["time_spent_ms"],
        )
    except AnnotationInvalid as exc:
        context = _review_context(queue, request.user, item, request.POST, errors={exc.field: [exc.message]})
        return _review_answer(request, context, status=400)
    if not request.htmx:
        return redirect("queue-review", queue_id=queue.pk)
    following = queue_services.queue_next(queue=queue, reviewer=request.user)
    return render(request, "reviews/_review_item.html", _review_context(queue, request.user, following))


def _corrected_scores(values: list[str]) -> list[int] | None:
    """The reviewer's own scores, one per response, or None when they left every box empty."""
    if not any(values):
        return None
    if not all(value.isdecimal() and len(value) <= 2 for value in values):
        raise AnnotationInvalid("corrected_scores", "give a whole number from 1 to 10 for every response")
    return [int(value) for value in values]


@never_cache
@require_POST
@reviewer_required
def queue_skip(request: UserHtmxHttpRequest, queue_id: int, item_id: int) -> HttpResponse:
    item = _item_or_404(queue_id, item_id, request.user)
    queue = item.queue
    queue_services.queue_skip(item=item, reviewer=request.user)
    if not request.htmx:
        return redirect("queue-review", queue_id=queue.pk)
    following = queue_services.queue_next(queue=queue, reviewer=request.user)
    return render(request, "reviews/_review_item.html", _review_context(queue, request.user, following))


@never_cache
@require_POST
@reviewer_required
def queue_undo(request: UserHtmxHttpRequest, queue_id: int) -> HttpResponse:
    """Take back the reviewer's last decision in the queue and show that item again, its form as they
    had filled it."""
    queue = _queue_or_404(queue_id)
    undone = queue_services.queue_undo(queue=queue, reviewer=request.user)
    if undone is None:
        following = queue_services.queue_next(queue=queue, reviewer=request.user)
        context = _review_context(queue, request.user, following, errors={"item": ["Nothing to undo in this queue."]})
        return _review_answer(request, context, status=409)
    submitted = QueryDict(mutable=True)
    submitted.setlist("failure_modes", list(undone.failure_modes))
    submitted.setlist("corrected_scores", [str(score) for score in undone.corrected_scores or ()])
    submitted["note"] = undone.note
    what = f"your {undone.decision}" if undone.decision else "your skip"
    context = _review_context(
        queue, request.user, undone.item, submitted, notice=f"Undone: {what} of item {undone.item.rank} is taken back."
    )
    return _review_answer(request, context)


@admin_required
def queue_guidelines(request: HttpRequest, queue_id: int) -> HttpResponse:
    """An admin writes the queue's guidelines (Markdown); reviewers read them beside each item."""
    queue = _queue_or_404(queue_id)
    form = GuidelinesForm(request.POST or None, initial={"guidelines": queue.guidelines})
    if request.method == "POST" and form.is_valid():
        try:
            queue_services.queue_guidelines_set(queue=queue, guidelines=form.cleaned_data["guidelines"])
        except ApplicationError as exc:
            form.add_error("guidelines", exc.message)
        else:
            messages.success(request, f"Guidelines of {queue.name} saved.")
            return redirect("queue-review", queue_id=queue.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "reviews/queue_guidelines.html", {"queue": queue, "form": form}, status=status)


@reviewer_required
def queue_agreement(request: HttpRequest, queue_id: int) -> HttpResponse:
    queue = _queue_or_404(queue_id)
    summary = queue_selectors.queue_agreement(queue=queue)
    return render(request, "reviews/queue_agreement.html", {"queue": queue, "agreement": summary})


@reviewer_required
def search(request: HttpRequest) -> HttpResponse:
    """Queries by dataset, subset, run and its verdict, failure mode, reviewer and text."""
    form = SearchForm(request.GET)
    page = None
    snippets: dict[int, list[search_selectors.Snippet]] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = search_selectors.SearchFilters(
            dataset=data["dataset"].name if data["dataset"] else "",
            subset=data["subset"],
            run=data["run"].pk if data["run"] else None,
            verdict=data["verdict"],
            failure_mode=data["failure_mode"].code if data["failure_mode"] else "",
            reviewer=data["reviewer"],
            text=data["text"].strip(),
        )
        page = Paginator(search_selectors.search_queries(filters), 50).get_page(request.GET.get("page"))
        if filters.text:
            snippets = search_selectors.search_snippets(
                query_ids=[query.pk for query in page.object_list], text=filters.text
            )
    query_string = request.GET.copy()
    query_string.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query_string": query_string.urlencode(),
        "is_postgresql": search_selectors.full_text(),
        "snippets": snippets,
    }
    return render(request, "reviews/search.html", context)


# --- Meta RM checkpoints


def _metarm_page(
    request: HttpRequest,
    *,
    train_form: CheckpointTrainForm | None = None,
    register_form: CheckpointRegisterForm | None = None,
) -> HttpResponse:
    admin = is_admin(request.user)
    context = {
        "checkpoints": metarm_selectors.checkpoints_list(),
        "train_form": train_form or (CheckpointTrainForm() if admin else None),
        "register_form": register_form or (CheckpointRegisterForm() if admin else None),
    }
    return render(request, "reviews/metarm.html", context)


@reviewer_required
def metarm_checkpoints(request: HttpRequest) -> HttpResponse:
    """The meta RM checkpoints with their validation metrics; admins train, register and activate."""
    return _metarm_page(request)


@reviewer_required
def metarm_checkpoint_row(request: HttpRequest, name: str) -> HttpResponse:
    """One checkpoint's row; it polls itself while the checkpoint is queued or training."""
    checkpoint = get_object_or_404(metarm_selectors.checkpoints_list(), name=name)
    return render(request, "reviews/_checkpoint_row.html", {"checkpoint": checkpoint})


@require_POST
@admin_required
def metarm_train(request: UserHtmxHttpRequest) -> HttpResponse:
    form = CheckpointTrainForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            checkpoint = metarm_services.checkpoint_train_start(
                runs=list(data["runs"]),
                profile=data["profile"],
                base_model=data["base_model"].strip(),
                name=data["name"],
                created_by=request.user,
            )
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Checkpoint {checkpoint.name} queued for training.")
            return redirect("metarm")
    return _metarm_page(request, train_form=form)


@require_POST
@admin_required
def metarm_register(request: UserHtmxHttpRequest) -> HttpResponse:
    form = CheckpointRegisterForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            checkpoint = metarm_services.checkpoint_register(
                name=data["name"], location=data["location"], created_by=request.user
            )
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Checkpoint {checkpoint.name} registered: {checkpoint.location}.")
            return redirect("metarm")
    return _metarm_page(request, register_form=form)


@require_POST
@admin_required
def metarm_activate(request: HttpRequest, name: str) -> HttpResponse:
    checkpoint = get_object_or_404(MetaRmCheckpoint, name=name)
    try:
        metarm_services.checkpoint_activate(checkpoint=checkpoint)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{checkpoint.name} is now the active meta RM: runs use it unless they name another.")
    return redirect("metarm")
