"""Rejective fine-tuning rounds: the list (admins create the next round there) and a round's page (its
runs with Voting@k and MetaRM@k, its parent and children, its releases; admins add runs to it)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from reviews.errors import ApplicationError
from reviews.forms import RoundForm, RoundRunsForm
from reviews.models import Round
from reviews.roles import admin_required, is_admin, reviewer_required
from reviews.selectors import rounds as round_selectors
from reviews.services import rounds as round_services
from reviews.views import UserHtmxHttpRequest, _form_error

# Round numbers are 32-bit in PostgreSQL; a larger one in the URL is no round (not an overflow's 500).
ROUND_NUMBER_LIMIT = 2**31


def _round_or_404(number: int) -> Round:
    try:
        if number >= ROUND_NUMBER_LIMIT:
            raise Round.DoesNotExist
        return round_selectors.round_for_page(number=number)
    except Round.DoesNotExist:
        raise Http404("No such round") from None


def _rounds_page(request: HttpRequest, *, form: RoundForm | None = None) -> HttpResponse:
    if form is None and is_admin(request.user):
        form = RoundForm()
    return render(request, "reviews/rounds.html", {"rounds": round_selectors.rounds_list(), "form": form})


@reviewer_required
def rounds(request: HttpRequest) -> HttpResponse:
    """Every round, latest first, with its parent, evaluated model, runs and releases."""
    return _rounds_page(request)


@require_POST
@admin_required
def round_new(request: UserHtmxHttpRequest) -> HttpResponse:
    form = RoundForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            created = round_services.round_create(
                name=data["name"],
                parent=data["parent"],
                model_config=data["model_config"],
                notes=data["notes"],
                created_by=request.user,
            )
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            parent = f", after round {created.parent.number}" if created.parent is not None else ""
            messages.success(request, f"Round {created.number} created{parent}.")
            return redirect("round-detail", number=created.number)
    return _rounds_page(request, form=form)


def _round_page(request: HttpRequest, round: Round, *, runs_form: RoundRunsForm | None = None) -> HttpResponse:
    if runs_form is None and is_admin(request.user):
        runs_form = RoundRunsForm()
    context = {"round": round, "page": round_selectors.round_page(round=round), "runs_form": runs_form}
    return render(request, "reviews/round_detail.html", context)


@reviewer_required
def round_detail(request: HttpRequest, number: int) -> HttpResponse:
    return _round_page(request, _round_or_404(number))


@require_POST
@admin_required
def round_assign_runs(request: HttpRequest, number: int) -> HttpResponse:
    """Add runs that are in no round yet to this one."""
    round = _round_or_404(number)
    form = RoundRunsForm(request.POST)
    if form.is_valid():
        try:
            changed = round_services.round_assign_runs(round=round, runs=list(form.cleaned_data["runs"]))
        except ApplicationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"{changed} run(s) added to round {round.number}.")
            return redirect("round-detail", number=round.number)
    return _round_page(request, round, runs_form=form)
