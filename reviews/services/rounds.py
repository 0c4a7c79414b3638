"""Writes for rejective fine-tuning rounds: create the next round, attach runs to it, rename it.

Round N+1 records its parent (by default round N) and the GRM checkpoint it evaluates, the model that
round N's releases trained. A run joins a round when it is created (`run_create(rft_round=...)`) or
later through `round_assign_runs`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Literal

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from reviews.errors import Conflict, RoundInvalid
from reviews.locks import lock_for_transaction
from reviews.models import ModelConfig, Round, Run

# Creating a round takes this lock, so two at once get consecutive numbers instead of one failing.
ROUND_NUMBER_LOCK = "reviews.round.number"
NUMBER_ATTEMPTS = 3


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET = _Unset.UNSET


def _check_parent(parent: Round | None, number: int) -> None:
    if parent is None:
        return
    if parent.pk is None:
        raise RoundInvalid("the parent round has not been saved", field="parent")
    if parent.number >= number:
        raise RoundInvalid(
            f"the parent must be an earlier round than {number}; round {parent.number} is not", field="parent"
        )


@transaction.atomic
def round_create(
    *,
    name: str = "",
    parent: Round | None = None,
    model_config: ModelConfig | None = None,
    notes: str = "",
    created_by: User | None = None,
) -> Round:
    """The next round: numbered one past the highest, its parent the latest round unless another
    earlier round is named (round 1 has none)."""
    lock_for_transaction(ROUND_NUMBER_LOCK)
    for attempt in range(NUMBER_ATTEMPTS):
        latest = Round.objects.order_by("-number").first()
        number = latest.number + 1 if latest is not None else 1
        chosen = parent if parent is not None else latest
        _check_parent(chosen, number)
        try:
            # A savepoint: a number taken meanwhile (SQLite, or a row written outside this service)
            # fails this insert only, and the next attempt reads the new highest number.
            with transaction.atomic():
                return Round.objects.create(
                    number=number,
                    name=name.strip(),
                    parent=chosen,
                    model_config=model_config,
                    notes=notes,
                    created_by=created_by,
                )
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS - 1:
                raise Conflict("another round was created at the same time; try again") from None
    raise AssertionError("unreachable")


@transaction.atomic
def round_assign_runs(*, round: Round, runs: Iterable[Run]) -> int:
    """Attach the runs to the round (a run in another round moves to this one); how many changed."""
    runs = list(runs)
    if not runs:
        raise RoundInvalid("choose at least one run to add to the round", field="runs")
    changed = Run.objects.filter(id__in=[run.pk for run in runs]).exclude(rft_round=round).update(rft_round=round)
    for run in runs:
        run.rft_round = round
    return changed


def round_update(
    *,
    round: Round,
    name: str | None = None,
    notes: str | None = None,
    model_config: ModelConfig | Literal[_Unset.UNSET] | None = UNSET,
) -> Round:
    """Change a round's name, notes or evaluated model (None clears it); what is not given stays."""
    fields = []
    if name is not None:
        round.name = name.strip()
        fields.append("name")
    if notes is not None:
        round.notes = notes
        fields.append("notes")
    if model_config is not UNSET:
        round.model_config = model_config
        fields.append("model_config")
    if fields:
        round.save(update_fields=fields)
    return round
