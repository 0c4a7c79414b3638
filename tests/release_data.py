"""A small judged dataset to build releases from, for the API, page, admin and command tests (the
builder itself is tested over every rule outcome in tests/services/test_releases.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings

from reviews.models import Dataset, Release, Run, Sample
from reviews.services.decisions import decisions_backfill
from tests.factories import DatasetFactory, QueryFactory, ReleaseFactory, ResponseFactory, RunFactory, SampleFactory

RIGHT = "Specific Criteria: be right\nAnalysis: the first is right\nScores: \\boxed{8, 3}"
WRONG = "Specific Criteria: be short\nAnalysis: the second is shorter\nScores: \\boxed{3, 8}"

# Per query, its k=3 judgments: two with both outcomes (accepted and rejected rows, pairs), one too hard.
JUDGMENTS = ([RIGHT, WRONG, WRONG], [RIGHT, RIGHT, WRONG], [WRONG, WRONG, WRONG], [WRONG, RIGHT, WRONG])


def judged_dataset(name: str = "main", *, subset: str = "chat", prompt: str = "Question") -> tuple[Dataset, Run]:
    """A dataset of labelled queries (`subset`, prompts starting with `prompt`) and a finished run of it."""
    dataset = DatasetFactory.create(name=name)
    run = RunFactory.create(dataset=dataset, k=3, status=Run.Status.DONE)
    for number, texts in enumerate(JUDGMENTS):
        text = f"{prompt} {number} of {name}?"
        query = QueryFactory.create(
            dataset=dataset,
            external_id=f"{name}-{number}",
            subset=subset,
            prompt=text,
            context=[{"role": "user", "content": text}],
            best_index=0,
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
        )
        for position, answer in enumerate([f"Right answer {number}.", f"Wrong answer {number}."]):
            ResponseFactory.create(query=query, position=position, text=answer)
        for index, raw_text in enumerate(texts):
            right = raw_text == RIGHT
            SampleFactory.create(
                run=run,
                query=query,
                sample_index=index,
                permutation=[0, 1],
                raw_text=raw_text,
                principles="be right" if right else "be short",
                critique="the first is right" if right else "the second is shorter",
                scores=[8, 3] if right else [3, 8],
                parse_status=Sample.ParseStatus.OK,
                correct=right,
            )
    decisions_backfill(run_ids=[run.id])
    return dataset, run


OLD_CONTENT = b'{"prompt": "An old question?", "completion": "An old answer."}\n'


def converted_release() -> Release:
    """A ready release as migration 0010 converts one of the old single-file layout: its manifest lists
    the file with only its name, sha256 and bytes (no split, format or rows)."""
    release = ReleaseFactory.create(name="old-export", content=OLD_CONTENT)
    (Path(settings.GRM_RELEASE_DIR) / release.folder / "train.jsonl").rename(
        Path(settings.GRM_RELEASE_DIR) / release.folder / "old.jsonl"
    )
    digest = hashlib.sha256(OLD_CONTENT).hexdigest()
    release.manifest = {"files": [{"name": "old.jsonl", "sha256": digest, "bytes": len(OLD_CONTENT)}]}
    release.save(update_fields=["manifest"])
    return release
