"""The data model, one module per feature: what was uploaded, what the GRM sampled, what reviewers
decided, what was released.

Models hold fields, constraints, indexes and small derived properties only; writes go through
`reviews.services`, reads through `reviews.selectors`.
"""

from reviews.models.accounts import ApiToken
from reviews.models.annotations import Adjudication, Annotation, FailureMode
from reviews.models.datasets import Dataset, Query, Response
from reviews.models.metarm import MetaRmCheckpoint
from reviews.models.queues import Assignment, QueueItem, ReviewQueue
from reviews.models.releases import Release
from reviews.models.rendered import RenderedText
from reviews.models.runs import ModelConfig, PromptTemplate, Round, Run, RunEvent, Sample, Verdict
from reviews.models.uploads import Upload, UploadError
from reviews.models.workers import WorkerHeartbeat

__all__ = [
    "Adjudication",
    "Annotation",
    "ApiToken",
    "Assignment",
    "Dataset",
    "FailureMode",
    "MetaRmCheckpoint",
    "ModelConfig",
    "PromptTemplate",
    "Query",
    "QueueItem",
    "Release",
    "RenderedText",
    "Response",
    "ReviewQueue",
    "Round",
    "Run",
    "RunEvent",
    "Sample",
    "Upload",
    "UploadError",
    "Verdict",
    "WorkerHeartbeat",
]
