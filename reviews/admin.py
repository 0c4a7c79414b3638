"""Admin pages: list columns, filters and search for every model. Releases are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest

from reviews.errors import ApplicationError
from reviews.models import (
    Annotation,
    ApiToken,
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
    Sample,
    Verdict,
)
from reviews.services import metarm as metarm_services
from reviews.services.accounts import api_token_revoke


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "created_by", "created_at")
    search_fields = ("name", "description", "source")
    date_hierarchy = "created_at"


class ResponseInline(admin.TabularInline):
    model = Response
    extra = 0
    fields = ("position", "text", "metadata")


@admin.register(Query)
class QueryAdmin(admin.ModelAdmin):
    list_display = ("external_id", "dataset", "subset", "best_index", "rating", "created_at")
    list_filter = ("dataset", "subset")
    search_fields = ("external_id", "prompt")
    list_select_related = ("dataset",)
    readonly_fields = ("content_hash", "created_at")
    inlines = [ResponseInline]
    show_full_result_count = False


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ("query", "position", "short_text")
    list_filter = ("query__dataset",)
    search_fields = ("text", "query__external_id")
    list_select_related = ("query",)
    raw_id_fields = ("query",)
    show_full_result_count = False

    @admin.display(description="text")
    def short_text(self, obj: Response) -> str:
        return obj.text[:120]


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "is_default", "created_by", "created_at")
    list_filter = ("is_default",)
    search_fields = ("name", "description", "text")


@admin.register(ModelConfig)
class ModelConfigAdmin(admin.ModelAdmin):
    list_display = ("name", "backend", "model", "base_url", "is_default")
    list_filter = ("backend", "is_default")
    search_fields = ("name", "model")


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "parent", "created_at")
    search_fields = ("name", "notes")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "dataset",
        "model_config",
        "k",
        "temperature",
        "status",
        "queries_done",
        "queries_total",
        "parse_failures",
        "meta_status",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "meta_status", "dataset", "model_config", "hinted", "rft_round")
    actions = ["train_metarm", "meta_score"]
    search_fields = ("dataset__name", "model_config__name", "error_message")
    list_select_related = ("dataset", "model_config", "created_by")
    date_hierarchy = "created_at"
    readonly_fields = (
        "queries_total",
        "queries_done",
        "samples_done",
        "parse_failures",
        "tokens_generated",
        "generation_seconds",
        "started_at",
        "finished_at",
        "created_at",
        "meta_status",
        "meta_scored",
        "meta_error",
    )

    @admin.action(description="Train a meta RM (cpu profile) on the selected runs")
    def train_metarm(self, request: HttpRequest, queryset: Any) -> None:
        try:
            checkpoint = metarm_services.checkpoint_train_start(
                runs=list(queryset.order_by("id")), created_by=request.user if request.user.is_authenticated else None
            )
        except ApplicationError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
        else:
            self.message_user(request, f"Meta RM {checkpoint.name} queued for training on a gpu-queue worker.")

    @admin.action(description="Meta-score the selected runs with the active meta RM")
    def meta_score(self, request: HttpRequest, queryset: Any) -> None:
        for run in queryset.order_by("id"):
            try:
                metarm_services.run_meta_request(run=run)
            except ApplicationError as exc:
                self.message_user(request, f"Run {run.id}: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, f"Run {run.id}: meta scoring asked for.")


@admin.register(MetaRmCheckpoint)
class MetaRmCheckpointAdmin(admin.ModelAdmin):
    """Checkpoints with their validation metrics; training and results are written by workers only."""

    list_display = (
        "name",
        "source",
        "profile",
        "status",
        "progress_percent",
        "roc_auc",
        "accuracy",
        "calibration_error",
        "training_examples",
        "is_active",
        "created_at",
    )
    list_filter = ("status", "source", "profile", "is_active")
    search_fields = ("name", "location", "base_model")
    readonly_fields = tuple(
        field.name for field in MetaRmCheckpoint._meta.get_fields() if field.concrete and field.name != "name"
    )
    actions = ["activate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # trained through metarm_train or the run actions; registered on the checkpoints page

    @admin.display(description="ROC-AUC")
    def roc_auc(self, obj: MetaRmCheckpoint) -> str:
        return _metric(obj, "roc_auc")

    @admin.display(description="accuracy")
    def accuracy(self, obj: MetaRmCheckpoint) -> str:
        return _metric(obj, "accuracy")

    @admin.display(description="ECE")
    def calibration_error(self, obj: MetaRmCheckpoint) -> str:
        return _metric(obj, "ece")

    @admin.action(description="Make the selected checkpoint the active one")
    def activate(self, request: HttpRequest, queryset: Any) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one checkpoint to activate.", level=messages.ERROR)
            return
        checkpoint = queryset.get()
        try:
            metarm_services.checkpoint_activate(checkpoint=checkpoint)
        except ApplicationError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
        else:
            self.message_user(request, f"{checkpoint.name} is now the active meta RM.")


def _metric(checkpoint: MetaRmCheckpoint, name: str) -> str:
    value = (checkpoint.metrics or {}).get(name)
    return f"{value:.3f}" if isinstance(value, int | float) else "—"


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "query", "sample_index", "parse_status", "forced", "meta_score", "correct")
    list_filter = ("parse_status", "forced", "hinted", "correct", "run")
    search_fields = ("query__external_id", "principles", "critique")
    list_select_related = ("run", "query")
    raw_id_fields = ("run", "query")
    show_full_result_count = False


@admin.register(Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "query", "valid_samples", "best_index", "correct", "meta_best_index", "meta_correct")
    list_filter = ("correct", "meta_correct", "tie_broken", "run")
    search_fields = ("query__external_id",)
    list_select_related = ("run", "query")
    raw_id_fields = ("run", "query")
    show_full_result_count = False


@admin.register(FailureMode)
class FailureModeAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "position", "active")
    list_editable = ("position", "active")
    list_filter = ("active",)
    search_fields = ("code", "label", "description")


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("id", "reviewer", "decision", "sample", "query", "time_spent_ms", "created_at")
    list_filter = ("decision", "failure_modes", "reviewer")
    search_fields = ("note", "reviewer__username", "query__external_id")
    list_select_related = ("reviewer", "sample", "query")
    raw_id_fields = ("sample", "query")
    filter_horizontal = ("failure_modes",)
    date_hierarchy = "created_at"


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "kind", "format", "rft_round", "sha256", "created_by", "created_at")
    list_filter = ("kind", "format", "rft_round")
    search_fields = ("name", "sha256")
    list_select_related = ("rft_round", "created_by")

    # A release is immutable once built: the admin lists and shows releases but never adds or edits one.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.unregister(User)


@admin.register(User)
class RoleUserAdmin(UserAdmin):
    """Admins (the role) manage reviewers' accounts and roles, but cannot make or edit superusers."""

    list_display = ("username", "email", "is_active", "is_staff", "is_superuser", "last_login")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return (*fields, "is_superuser", "user_permissions", "last_login", "date_joined")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by `create_api_token` (the raw token is shown once); here they are revoked."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    exclude = ("key_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")
