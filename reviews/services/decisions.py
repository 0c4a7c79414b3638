"""Writes for the rejective fine-tuning decision of each sample (GRM_SPEC 6, issue 11).

A sample's `rule_reason` is the rule's outcome for its query in its run (stored with the sample by
`services.runs.run_store_results`); `decision`, `decision_reason` and `decision_source` are that outcome
once reviewers and admins have spoken (`workers.grm.rft.final_decision`, the one owner of the
precedence). Everything here recomputes from rows, so calling it twice changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction

from reviews.errors import AdjudicationInvalid
from reviews.models import Adjudication, Annotation, Run, Sample
from workers.grm.rft import Reason, Verdict, final_decision, rule_reasons

DECISION_FIELDS = ["decision", "decision_reason", "decision_source"]
BATCH = 2000


def decisions_apply(*, sample_ids: Iterable[int]) -> int:
    """Recompute the decision of these samples from their rule outcome, annotations and adjudication;
    returns how many changed. A sample stored without a rule outcome (by a worker older than the rules)
    gets its query's first, so a reviewer's word on it is never lost."""
    ids = sorted(set(sample_ids))
    changed = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        samples = list(
            Sample.objects.filter(id__in=chunk).only("id", "run_id", "query_id", "rule_reason", *DECISION_FIELDS)
        )
        unruled: dict[int, set[int]] = defaultdict(set)
        for sample in samples:
            if not sample.rule_reason:
                unruled[sample.run_id].add(sample.query_id)
        for run_id, query_ids in unruled.items():  # decides those samples too, and writes only them
            changed += _rules_store(run_id, sorted(query_ids), only={sample.id for sample in samples})
        changed += _apply([sample for sample in samples if sample.rule_reason])
    return changed


def decisions_decide(*, samples: Sequence[Sample]) -> int:
    """`decisions_apply` for samples already read (with their rule outcome and decision fields, locked
    by the caller); returns how many changed."""
    ruled = [sample for sample in samples if sample.rule_reason]
    if len(ruled) < len(samples):
        return decisions_apply(sample_ids=[sample.id for sample in samples])
    return _apply(ruled)


def _apply(samples: Sequence[Sample]) -> int:
    ids = [sample.id for sample in samples]
    verdicts: dict[int, list[Verdict]] = defaultdict(list)
    latest: dict[int, datetime] = {}  # each sample's last annotation change
    rows = Annotation.objects.filter(sample_id__in=ids).values_list("sample_id", "decision", "note", "updated_at")
    for sample_id, decision, note, updated_at in rows:
        verdicts[sample_id].append(Verdict(accept=decision == Annotation.Decision.ACCEPT, noted=bool(note.strip())))
        latest[sample_id] = max(updated_at, latest.get(sample_id, updated_at))
    adjudicated: dict[int, str] = {}
    # An adjudication decides only where reviewers disagree: no other sample needs it read.
    split = [id_ for id_ in ids if len({verdict.accept for verdict in verdicts[id_]}) > 1]
    for sample_id, decision, updated_at in Adjudication.objects.filter(sample_id__in=split).values_list(
        "sample_id", "decision", "updated_at"
    ):
        if latest.get(sample_id, updated_at) <= updated_at:  # a verdict changed since reopens the question
            adjudicated[sample_id] = decision
    changed = []
    for sample in samples:
        if not sample.rule_reason:
            continue  # not stored by the rules yet: decisions_backfill first
        adjudication = adjudicated.get(sample.id)
        final = final_decision(
            Reason(sample.rule_reason),
            verdicts[sample.id],
            adjudication=None if adjudication is None else adjudication == Adjudication.Decision.ACCEPT,
        )
        values = (str(final.decision), str(final.reason), str(final.source))
        if (sample.decision, sample.decision_reason, sample.decision_source) != values:
            sample.decision, sample.decision_reason, sample.decision_source = values
            changed.append(sample)
    Sample.objects.bulk_update(changed, DECISION_FIELDS, batch_size=500)
    return len(changed)


def decisions_backfill(*, run_ids: Iterable[int]) -> int:
    """Apply the rules to the runs' samples stored before they had a rule outcome; returns how many."""
    done = 0
    for run in Run.objects.filter(id__in=list(run_ids)).only("id"):
        pending = Sample.objects.filter(run_id=run.id, rule_reason="").values_list("query_id", flat=True).distinct()
        query_ids = sorted(set(pending))
        for start in range(0, len(query_ids), BATCH // 8):
            done += _rules_store(run.id, query_ids[start : start + BATCH // 8])
    return done


def _rules_store(run_id: int, query_ids: Sequence[int], only: set[int] | None = None) -> int:
    """The rule's outcome for every sample of these queries of the run (the rule judges a query's samples
    together), then their decisions; returns how many had none. `only`: write just these samples (a
    reviewer's annotation locks its own sample; writing its siblings too would take their locks in an
    order another reviewer's annotation could take the other way round)."""
    samples = list(
        Sample.objects.filter(run_id=run_id, query_id__in=query_ids)
        .order_by("query_id", "sample_index")
        .only("id", "query_id", "correct", "parse_status", "hinted", "rule_reason", *DECISION_FIELDS)
    )
    unruled = sum(1 for sample in samples if not sample.rule_reason)
    by_query: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_query[sample.query_id].append(sample)
    for group in by_query.values():
        rules = rule_reasons(
            [sample.correct for sample in group],
            [sample.parse_status == Sample.ParseStatus.OK for sample in group],
            hinted=any(sample.hinted for sample in group),
        )
        for sample, rule in zip(group, rules, strict=True):
            sample.rule_reason = str(rule)
    if only is not None:
        samples = [sample for sample in samples if sample.id in only]
    Sample.objects.bulk_update(samples, ["rule_reason"], batch_size=500)
    _apply(samples)
    return unruled if only is None else len(samples)


@transaction.atomic
def adjudicate(*, sample: Sample, decision: str, note: str, admin: User) -> Adjudication:
    """An admin's decision on a sample its reviewers disagree on; deciding again replaces it."""
    if decision not in Adjudication.Decision.values:
        raise AdjudicationInvalid("decision", f"must be one of {', '.join(Adjudication.Decision.values)}")
    if not note.strip():
        raise AdjudicationInvalid("note", "say why: the note is kept with the decision")
    Sample.objects.select_for_update().filter(pk=sample.pk).first()  # one decision on a sample at a time
    decisions = set(Annotation.objects.filter(sample=sample).values_list("decision", flat=True))
    if len(decisions) < 2:
        raise AdjudicationInvalid(
            "sample", f"sample {sample.id}'s reviewers do not disagree: only disagreements are adjudicated"
        )
    adjudication, _ = Adjudication.objects.update_or_create(
        sample=sample, defaults={"decision": decision, "note": note.strip(), "adjudicated_by": admin}
    )
    decisions_apply(sample_ids=[sample.id])
    return adjudication
