"""Output serializers: what each API resource looks like."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from reviews.models import (
    Annotation,
    Dataset,
    FailureMode,
    ModelConfig,
    PromptTemplate,
    Query,
    Response,
    Run,
    Sample,
    Verdict,
)


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
            "temperature",
            "max_tokens",
            "seed",
            "hinted",
            "force_scores",
            "batch_size",
            "status",
            "queries_total",
            "queries_done",
            "samples_done",
            "parse_failures",
            "forced_samples",
            "tokens_generated",
            "generation_seconds",
            "failed_query_ids",
            "error_message",
            "created_at",
            "started_at",
            "finished_at",
        ]


class SampleOut(serializers.ModelSerializer[Sample]):
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
