"""A reviewer's own annotations: the list with filters ("my annotations"), and editing one of them.

(Not `views/annotations.py`: `from __future__ import annotations` in the package would shadow it.)"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from reviews.errors import AnnotationInvalid
from reviews.forms import AnnotateForm, MyAnnotationsForm
from reviews.models import Annotation, FailureMode
from reviews.roles import reviewer_required
from reviews.selectors import annotations as annotation_selectors
from reviews.services.annotations import annotation_submit
from reviews.views import UserHtmxHttpRequest, _corrected_scores


@reviewer_required
def my_annotations(request: UserHtmxHttpRequest) -> HttpResponse:
    form = MyAnnotationsForm(request.GET or None)
    filters = annotation_selectors.MyAnnotationFilters()
    if form.is_valid():
        data = form.cleaned_data
        filters = annotation_selectors.MyAnnotationFilters(
            dataset=data["dataset"].name if data["dataset"] else "",
            run=data["run"],
            decision=data["decision"],
            failure_mode=data["failure_mode"].code if data["failure_mode"] else "",
            text=data["text"],
            since=data["since"],
        )
    annotations = annotation_selectors.my_annotations(reviewer=request.user, filters=filters)
    page = Paginator(annotations, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "reviews/my_annotations.html",
        {"form": form, "page": page, "filters_query": query.urlencode(), "here": request.get_full_path()},
    )


@reviewer_required
def annotation_edit(request: UserHtmxHttpRequest, annotation_id: int) -> HttpResponse:
    """Change one of my annotations: the same service as the review page (the sample's decision follows)."""
    try:
        annotation = annotation_selectors.my_annotation(reviewer=request.user, annotation_id=annotation_id)
    except Annotation.DoesNotExist:
        raise Http404("No such annotation of yours") from None
    back = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    target_query = annotation.sample.query if annotation.sample else annotation.query
    assert target_query is not None
    responses = target_query.responses.count()
    errors: dict[str, list[str]] = {}
    values = {
        "decision": annotation.decision,
        "failure_modes": {mode.code for mode in annotation.failure_modes.all()},
        "corrected_scores": [str(score) for score in annotation.corrected_scores or []],
        "note": annotation.note,
    }
    if request.method == "POST":
        values = {
            "decision": request.POST.get("decision", ""),
            "failure_modes": set(request.POST.getlist("failure_modes")),
            "corrected_scores": [value.strip() for value in request.POST.getlist("corrected_scores")],
            "note": request.POST.get("note", ""),
        }
        form = AnnotateForm(request.POST)
        if form.is_valid():
            try:
                annotation_submit(
                    reviewer=request.user,
                    sample=annotation.sample,
                    query=annotation.query,
                    decision=form.cleaned_data["decision"],
                    failure_modes=form.cleaned_data["failure_modes"],
                    note=form.cleaned_data["note"],
                    corrected_scores=_corrected_scores(list(values["corrected_scores"])),
                    time_spent_ms=annotation.time_spent_ms,
                )
            except AnnotationInvalid as exc:
                errors = {exc.field: [exc.message]}
            else:
                messages.success(request, "Annotation saved.")
                return redirect(back or "my-annotations")
        else:
            errors = {field: [str(problem) for problem in problems] for field, problems in form.errors.items()}
    context = {
        "annotation": annotation,
        "target_query": target_query,
        "modes": FailureMode.objects.filter(
            active=True, scope=FailureMode.Scope.JUDGMENT if annotation.sample_id else FailureMode.Scope.LABEL
        ),
        "responses": range(responses),
        "values": values,
        "errors": errors,
        "next": back,
    }
    return render(request, "reviews/annotation_edit.html", context, status=400 if errors else 200)
