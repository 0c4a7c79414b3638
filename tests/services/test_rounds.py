"""Round services: numbering and parents, attaching runs, renaming; and runs that join a round when created."""

import io
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection

from reviews.errors import Conflict, RoundInvalid
from reviews.models import Round, Run
from reviews.services import rounds as round_services
from reviews.services.rounds import round_assign_runs, round_create, round_update
from reviews.services.runs import run_create_from
from tests.factories import ModelConfigFactory, RunFactory, UserFactory, start_run

pytestmark = pytest.mark.django_db


def test_rounds_are_numbered_in_turn_and_each_defaults_to_the_latest_as_parent():
    model = ModelConfigFactory.create(name="grm-r2")
    author = UserFactory.create()
    first = round_create(name="  seed  ", created_by=author)
    second = round_create(model_config=model, notes="trained on round 1's accepted samples")
    third = round_create()
    assert (first.number, first.name, first.parent, first.created_by) == (1, "seed", None, author)
    assert (second.number, second.parent, second.model_config) == (2, first, model)
    assert (third.number, third.parent) == (3, second)


def test_a_named_parent_may_be_any_earlier_round():
    first = round_create()
    round_create()
    branch = round_create(parent=first)
    assert (branch.number, branch.parent) == (3, first)


def test_a_parent_must_come_before_the_round():
    with pytest.raises(RoundInvalid) as unsaved:
        round_create(parent=Round(number=7))
    assert unsaved.value.field == "parent"
    assert Round.objects.count() == 0
    latest = round_create()
    latest.number = 5  # not saved: as if the round it names had moved past the next number
    with pytest.raises(RoundInvalid, match="earlier round than 2") as later:
        round_create(parent=latest)
    assert later.value.field == "parent"


def test_a_number_taken_meanwhile_is_retried_then_a_conflict(monkeypatch):
    """Another writer takes the next number between this one's read and its insert (a row written outside
    the service, or SQLite without the lock): the insert fails alone and the next attempt reads again."""
    round_create()
    real_order_by = Round.objects.order_by
    reads = []

    class ReadThenRace:
        def __init__(self, rounds):
            self.rounds = rounds

        def first(self):
            latest = self.rounds.first()
            reads.append(latest.number)
            if len(reads) == 1:
                Round(number=latest.number + 1, name="written elsewhere").save()
            return latest

    monkeypatch.setattr(Round.objects, "order_by", lambda *fields: ReadThenRace(real_order_by(*fields)))
    created = round_create(name="mine")
    assert reads == [1, 2]
    assert (created.number, created.name, created.parent) == (3, "mine", Round.objects.get(name="written elsewhere"))
    monkeypatch.undo()

    def always_taken(**fields):
        raise IntegrityError("UNIQUE constraint failed: reviews_round.number")

    monkeypatch.setattr(Round.objects, "create", always_taken)
    with pytest.raises(Conflict):
        round_create()
    assert Round.objects.count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rounds_created_at_once_get_distinct_numbers():
    """Threads on their own connections: the lock (PostgreSQL) or the single writer (SQLite) serializes them."""
    errors = []

    def create() -> None:
        try:
            round_create()
        except Exception as exc:  # shown by the assertion below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = sorted(Round.objects.values_list("number", flat=True))
    assert errors == []
    assert numbers == [1, 2, 3, 4]
    assert [r.parent.number if r.parent else None for r in Round.objects.order_by("number")] == [None, 1, 2, 3]


def test_runs_are_attached_and_moved_between_rounds():
    first, second = round_create(), round_create()
    runs = [RunFactory.create(), RunFactory.create(), RunFactory.create(rft_round=second)]
    assert round_assign_runs(round=first, runs=iter(runs)) == 3
    assert set(Run.objects.values_list("rft_round", flat=True)) == {first.pk}
    assert all(run.rft_round == first for run in runs)
    assert round_assign_runs(round=first, runs=runs[:1]) == 0  # already there
    with pytest.raises(RoundInvalid) as empty:
        round_assign_runs(round=first, runs=[])
    assert empty.value.field == "runs"


def test_update_changes_only_what_is_given():
    model = ModelConfigFactory.create(name="grm-r1")
    current = round_create(name="old", notes="n", model_config=model)
    round_update(round=current, name=" new ")
    current.refresh_from_db()
    assert (current.name, current.notes, current.model_config) == ("new", "n", model)
    round_update(round=current, notes="", model_config=None)
    current.refresh_from_db()
    assert (current.name, current.notes, current.model_config) == ("new", "", None)
    assert round_services.round_update(round=current) is current


def test_a_run_joins_a_round_when_created(demo, sent_tasks):
    dataset, _, _ = demo
    current = round_create()
    run = run_create_from(dataset=dataset, params={"k": 1, "subset": "chat", "rft_round": current})
    assert run.rft_round == current
    assert run_create_from(dataset=dataset, params={"k": 1, "subset": "chat"}).rft_round is None


def test_grm_run_takes_a_round_by_number(demo, sent_tasks):
    current = round_create()
    round_create()
    out = io.StringIO()
    call_command("grm_run", "--dataset", "demo", "--k", "1", "--subset", "chat", "--round", "1", stdout=out)
    run = Run.objects.get()
    assert run.rft_round == current
    assert "in round 1" in out.getvalue()
    for missing in ("9", "0", str(2**40)):
        with pytest.raises(CommandError, match=f"no RFT round {missing}"):
            call_command("grm_run", "--dataset", "demo", "--k", "1", "--round", missing, stdout=io.StringIO())
    assert Run.objects.count() == 1


def test_start_run_helper_still_makes_runs_without_a_round(demo):
    assert start_run(demo, query_filter={"subset": "chat"}).rft_round is None
