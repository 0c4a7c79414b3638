"""Admin pages: list columns, filters and search for every model. Releases are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.http import HttpRequest

from reviews.models import (
    Annotation,
    ApiToken,
    Dataset,
    FailureMode,
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
        "created_by",
        "created_at",
    )
    list_filter = ("status", "dataset", "model_config", "hinted", "rft_round")
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
    )


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
