"""Run selectors: the batches still to judge hold the run's queries as they were when it started."""

import pytest

from reviews.models import Query
from reviews.selectors.runs import run_pending_batches
from tests.factories import start_run

pytestmark = pytest.mark.django_db


def test_queries_imported_after_a_run_started_are_not_part_of_it(demo):
    run = start_run(demo, query_filter={"subset": "chat"}, k=1, batch_size=100)
    later = Query.objects.create(
        dataset=run.dataset,
        external_id="late",
        subset="chat",
        prompt="Q",
        context=[{"role": "user", "content": "Q"}],
        content_hash="x",
    )
    [batch] = run_pending_batches(run=run)
    assert later.id not in batch
    assert len(batch) == run.queries_total
