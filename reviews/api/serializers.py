"""Output serializers: what each API resource looks like."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reviews.models import (
    Adjudication,
    Annotation,
    Dataset,
    FailureMode,
    MetaRmCheckpoint,
    ModelConfig,
    PromptTemplate,
    Query,
    Release,
    Response,
    Round,
    Run,
    RunEvent,
    Sample,
    Upload,
    UploadError,
    Verdict,
)
from reviews.services.releases import MANIFEST


class DatasetOut(serializers.ModelSerializer[Dataset]):
    query_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "name", "description", "source", "created_at", "query_count"]


class ResponseOut(serializers.ModelSerializer[Response]):
    class Meta:
        model = Response
        fields = ["position", "text", "metadata"]


class QueryOut(serializers.ModelSerializer[Query]):
    dataset: serializers.SlugRelatedField[Dataset] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    responses = ResponseOut(many=True, read_only=True)

    class Meta:
        model = Query
        fields = [
            "id",
            "dataset",
            "external_id",
            "subset",
            "context",
            "prompt",
            "best_index",
            "rating",
            "metadata",
            "responses",
            "created_at",
        ]


class RunOut(serializers.ModelSerializer[Run]):
    dataset: serializers.SlugRelatedField[Dataset] = serializers.SlugRelatedField(slug_field="name", read_only=True)
    model_config: serializers.SlugRelatedField[ModelConfig] = serializers.SlugRelatedField(
        slug_field="name", read_only=True
    )
    template: serializers.StringRelatedField[PromptTemplate] = serializers.StringRelatedField(read_only=True)
    meta_checkpoint: serializers.SlugRelatedField[MetaRmCheckpoint] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True, help_text="The meta RM checkpoint that scores it."
    )
    rft_round: serializers.SlugRelatedField[Round] = serializers.SlugRelatedField(
        slug_field="number", read_only=True, allow_null=True, help_text="The number of its RFT round."
    )
    activity = serializers.CharField(
        read_only=True, help_text="What it is doing: waiting for a worker, a phase while it runs, or its status."
    )
    samples_total = serializers.IntegerField(read_only=True, help_text="Queries x k.")
    samples_percent = serializers.IntegerField(
        read_only=True, help_text="Samples stored (and those of failed queries) out of samples_total."
    )
    seconds_left = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="At the rate so far; null before the first samples or once ended."
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "dataset",
            "query_filter",
            "model_config",
            "template",
            "k",
            "k_meta",
            "meta_checkpoint",
            "meta_status",
            "meta_scored",
            "meta_error",
            "rft_round",
            "temperature",
            "max_tokens",
            "seed",
            "hinted",
            "source_run",
            "force_scores",
            "batch_size",
            "status",
            "phase",
            "activity",
            "samples_total",
            "samples_percent",
            "seconds_left",
            "queries_total",
            "queries_done",
            "samples_done",
            "parse_failures",
            "forced_samples",
            "tokens_generated",
            "generation_seconds",
            "failed_query_ids",
            "skipped_queries",
            "error_message",
            "created_at",
            "started_at",
            "finished_at",
        ]


class CheckpointOut(serializers.ModelSerializer[MetaRmCheckpoint]):
    """A meta RM checkpoint: where it is, how training went (progress, validation metrics), whether runs use it."""

    trained_on_runs: serializers.PrimaryKeyRelatedField[Run] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Ids of the runs whose judgments trained it."
    )
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = MetaRmCheckpoint
        fields = [
            "id",
            "name",
            "source",
            "location",
            "profile",
            "base_model",
            "status",
            "progress",
            "phase",
            "metrics",
            "content_hash",
            "trained_on_runs",
            "training_examples",
            "is_active",
            "error_message",
            "created_by",
            "created_at",
            "finished_at",
        ]


class RunCompareCounts(serializers.Serializer[Any]):
    judged_both = serializers.IntegerField(help_text="Queries with a verdict in both runs.")
    labelled_both = serializers.IntegerField(help_text="Of those, labelled ones (a verdict right or wrong in both).")
    both_right = serializers.IntegerField()
    only_a = serializers.IntegerField(help_text="Right in run a, wrong in run b.")
    only_b = serializers.IntegerField(help_text="Right in run b, wrong in run a.")
    both_wrong = serializers.IntegerField()


class RunCompareOut(serializers.Serializer[Any]):
    """Two runs of one dataset: how their Voting verdicts agree, and the queries whose verdict flipped."""

    a = serializers.IntegerField()
    b = serializers.IntegerField()
    dataset = serializers.CharField()
    counts = RunCompareCounts()
    flipped_total = serializers.IntegerField(help_text="Queries right in one run and wrong in the other.")
    flipped = serializers.ListField(
        child=serializers.IntegerField(), help_text="The first 100 flipped query ids, by id."
    )


class SampleOut(serializers.ModelSerializer[Sample]):
    """A sample, with its rejective fine-tuning outcome (GRM_SPEC 6): `rule_reason` is the rule's alone;
    `decision` (accept, reject, or held while reviewers disagree), `decision_reason` and `decision_source`
    (rule, reviewer or adjudication) are what stands once people have looked."""

    class Meta:
        model = Sample
        fields = [
            "id",
            "run",
            "query",
            "sample_index",
            "permutation",
            "raw_text",
            "principles",
            "critique",
            "scores",
            "parse_status",
            "sections_missing",
            "forced",
            "hinted",
            "prompt_tokens",
            "completion_tokens",
            "latency_ms",
            "meta_score",
            "correct",
            "rule_reason",
            "decision",
            "decision_reason",
            "decision_source",
        ]


class VerdictOut(serializers.ModelSerializer[Verdict]):
    class Meta:
        model = Verdict
        fields = [
            "id",
            "run",
            "query",
            "valid_samples",
            "vote_totals",
            "best_index",
            "correct",
            "tie_broken",
            "meta_vote_totals",
            "meta_best_index",
            "meta_correct",
            "vote_entropy",
        ]


class AnnotationOut(serializers.ModelSerializer[Annotation]):
    reviewer: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    failure_modes: serializers.SlugRelatedField[FailureMode] = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True
    )

    class Meta:
        model = Annotation
        fields = [
            "id",
            "sample",
            "query",
            "reviewer",
            "decision",
            "failure_modes",
            "note",
            "corrected_scores",
            "time_spent_ms",
            "created_at",
            "updated_at",
        ]


class AdjudicationOut(serializers.ModelSerializer[Adjudication]):
    """An admin's decision on a sample its reviewers disagree on, and the sample's decision it now makes."""

    adjudicated_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    sample_decision = serializers.CharField(source="sample.decision", read_only=True, help_text="accept or reject.")
    sample_decision_reason = serializers.CharField(source="sample.decision_reason", read_only=True)
    sample_decision_source = serializers.CharField(source="sample.decision_source", read_only=True)

    class Meta:
        model = Adjudication
        fields = [
            "id",
            "sample",
            "decision",
            "note",
            "adjudicated_by",
            "created_at",
            "updated_at",
            "sample_decision",
            "sample_decision_reason",
            "sample_decision_source",
        ]


class ReleaseFileOut(serializers.Serializer[Any]):
    """One data file of a ready release, as its manifest lists it, with the URL that downloads it."""

    name = serializers.CharField(help_text="e.g. train.jsonl, validation.parquet")
    split = serializers.CharField(help_text="train or validation")
    format = serializers.CharField(help_text="jsonl or parquet")
    rows = serializers.IntegerField(
        allow_null=True, help_text="Null when not known (a release converted from the single-file layout)."
    )
    bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    url = serializers.URLField(help_text="GET it for the file (its sha256 in X-Checksum-SHA256 and the ETag).")


class ReleaseOut(serializers.ModelSerializer[Release]):
    """A release: its definition, its build's status and progress and, once ready, its counts and files."""

    url = serializers.SerializerMethodField()
    rft_round: serializers.SlugRelatedField[Round] = serializers.SlugRelatedField(
        slug_field="number", read_only=True, allow_null=True, help_text="The RFT round's number."
    )
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    progress_percent = serializers.IntegerField(read_only=True)
    files = serializers.SerializerMethodField(help_text="The data files, once ready (empty before).")
    manifest_url = serializers.SerializerMethodField(help_text="manifest.json, once ready (null before).")

    class Meta:
        model = Release
        fields = [
            "id",
            "url",
            "name",
            "version",
            "kind",
            "status",
            "progress_percent",
            "rows_done",
            "rows_total",
            "rft_round",
            "filters",
            "seed",
            "validation_fraction",
            "counts",
            "sha256",
            "error_message",
            "created_by",
            "created_at",
            "finished_at",
            "files",
            "manifest_url",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, release: Release) -> str:
        return self._absolute(reverse("api-release", args=[release.pk]))

    @extend_schema_field(ReleaseFileOut(many=True))
    def get_files(self, release: Release) -> list[dict[str, Any]]:
        if release.status != Release.Status.READY:
            return []
        return [
            {**file, "url": self._absolute(reverse("api-release-file", args=[release.pk, file["name"]]))}
            for file in release.files
        ]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_manifest_url(self, release: Release) -> str | None:
        if release.status != Release.Status.READY:
            return None
        return self._absolute(reverse("api-release-file", args=[release.pk, MANIFEST]))

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ReleaseDetailOut(ReleaseOut):
    """One release with its whole manifest (docs/exports.md): filters, counts per subset and label, source
    runs, templates, models, seed, each file's sha256, who built it and when."""

    class Meta(ReleaseOut.Meta):
        fields = [*ReleaseOut.Meta.fields, "manifest"]


class RunEventOut(serializers.ModelSerializer[RunEvent]):
    """An entry of a run's error log: a batch tried again or failed, a resume after a stall, a failed
    meta scoring; `attempt` counts the task's deliveries before this one."""

    class Meta:
        model = RunEvent
        fields = ["id", "created_at", "kind", "message", "queries", "attempt", "worker", "task_id"]


class UploadErrorOut(serializers.ModelSerializer[UploadError]):
    class Meta:
        model = UploadError
        fields = ["line", "field", "message"]


class UploadOut(serializers.ModelSerializer[Upload]):
    """An upload's state and counts; `errors_url` lists its bad lines."""

    dataset = serializers.CharField(source="dataset_name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True, default=None)
    errors_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = [
            "id",
            "url",
            "dataset",
            "format",
            "field_map",
            "subset",
            "partial",
            "filename",
            "size_bytes",
            "status",
            "message",
            "items",
            "created",
            "unchanged",
            "error_count",
            "errors_url",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(OpenApiTypes.URI)
    def get_errors_url(self, upload: Upload) -> str:
        return self._absolute(reverse("api-upload-errors", args=[upload.pk]))

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, upload: Upload) -> str:
        return self._absolute(reverse("api-upload", args=[upload.pk]))

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class UploadDetailOut(UploadOut):
    """One upload, with its first ERRORS_SHOWN bad lines (all of them at `errors_url`)."""

    ERRORS_SHOWN = 100

    class Meta(UploadOut.Meta):
        fields = [*UploadOut.Meta.fields, "errors"]

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        # Added here: a class attribute named `errors` would shadow Serializer.errors.
        fields["errors"] = serializers.SerializerMethodField()
        return fields

    @extend_schema_field(UploadErrorOut(many=True))
    def get_errors(self, upload: Upload) -> Any:
        return UploadErrorOut(upload.errors.all()[: self.ERRORS_SHOWN], many=True).data
