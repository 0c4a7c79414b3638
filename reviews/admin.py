"""Admin pages: list columns, filters and search for every model. Releases are read-only; datasets, runs
and rounds have actions that build them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from reviews.errors import ApplicationError
from reviews.models import (
    Adjudication,
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
    ReviewQueue,
    Round,
    Run,
    Sample,
    Upload,
    UploadError,
    Verdict,
)
from reviews.roles import is_admin
from reviews.selectors import rounds as round_selectors
from reviews.services import metarm as metarm_services
from reviews.services import queues as queue_services
from reviews.services import releases as release_services
from reviews.services import rounds as round_services
from reviews.services import runs as run_services
from reviews.services.accounts import api_token_revoke
from reviews.services.decisions import DECISION_FIELDS, decisions_apply

ADMIN_ROLE = ["admin_role"]  # an action's permissions: `AdminRoleActions.has_admin_role_permission`


class AdminRoleActions:
    """For admins whose actions are the admin role's alone: migration 0002 lets reviewers view every
    changelist, and Django offers an action to whoever can view one unless it names a permission."""

    def has_admin_role_permission(self, request: HttpRequest) -> bool:
        return is_admin(request.user)


def release_actions(selection: Callable[[QuerySet[Any]], list[dict[str, Any]]]) -> list[Callable[..., None]]:
    """One action per release kind: build a release of what is selected (`selection` turns the selected
    rows into one release's filters, or several), and link each queued release's page in the message. They
    are the admin role's alone: their admin mixes in `AdminRoleActions`."""

    def build(modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any], kind: str) -> None:
        created_by = request.user if isinstance(request.user, User) else None
        for filters in selection(queryset):
            try:
                release = release_services.release_create(kind=kind, filters=filters, created_by=created_by)
            except ApplicationError as exc:
                modeladmin.message_user(request, f"No {kind} release of {filters}: {exc.message}", level=messages.ERROR)
            else:
                url = reverse("release-detail", args=[release.pk])
                message = format_html(
                    'Release <a href="{}">{}</a> ({}) queued: a cpu worker builds it.', url, release, kind
                )
                modeladmin.message_user(request, message)

    actions = []
    for kind, label in Release.Kind.choices:

        def action(
            modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any], kind: str = kind
        ) -> None:
            build(modeladmin, request, queryset, kind)

        action.__name__ = f"build_{kind}_release"
        described = admin.action(
            description=f"Build a {kind} release ({label}) of the selection", permissions=ADMIN_ROLE
        )
        actions.append(described(action))
    return actions


@admin.register(Dataset)
class DatasetAdmin(AdminRoleActions, admin.ModelAdmin):
    list_display = ("name", "source", "created_by", "created_at")
    search_fields = ("name", "description", "source")
    date_hierarchy = "created_at"
    actions = release_actions(lambda datasets: [{"dataset": sorted(datasets.values_list("name", flat=True))}])


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


class RoundRunInline(admin.TabularInline):
    """A round's runs, read-only here: a run's own admin page moves it to another round."""

    model = Run
    fk_name = "rft_round"
    fields = ("dataset", "model_config", "k", "k_meta", "hinted", "status", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("dataset", "model_config")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Round)
class RoundAdmin(AdminRoleActions, admin.ModelAdmin):
    """Rounds are numbered by `round_create` (the next number, the latest round as parent unless one is
    chosen); once created, the number and parent stay."""

    list_display = ("number", "name", "parent", "model_config", "run_count", "release_count", "created_at")
    list_filter = ("model_config",)
    search_fields = ("name", "notes")
    inlines = [RoundRunInline]
    # One release per selected round: a round is one filter value.
    actions = release_actions(
        lambda rounds: [{"round": number} for number in rounds.order_by("number").values_list("number", flat=True)]
    )

    def get_queryset(self, request: HttpRequest) -> Any:
        return round_selectors.rounds_list()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fixed = ("number", "created_by", "created_at")
        return (*fixed, "parent") if obj is not None else fixed

    @admin.display(description="runs", ordering="run_count")
    def run_count(self, obj: Round) -> int:
        return int(getattr(obj, "run_count", 0))

    @admin.display(description="releases", ordering="release_count")
    def release_count(self, obj: Round) -> int:
        return int(getattr(obj, "release_count", 0))

    def save_model(self, request: HttpRequest, obj: Round, form: Any, change: bool) -> None:
        if change:
            round_services.round_update(round=obj, name=obj.name, notes=obj.notes, model_config=obj.model_config)
            return
        created = round_services.round_create(
            name=obj.name,
            parent=obj.parent,
            model_config=obj.model_config,
            notes=obj.notes,
            created_by=request.user if isinstance(request.user, User) else None,
        )
        obj.pk = created.pk  # the admin goes on with `obj` (its log entry, the redirect): make it the row
        obj.refresh_from_db()
        obj._state.adding = False


@admin.register(Run)
class RunAdmin(AdminRoleActions, admin.ModelAdmin):
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
    actions = [
        "cancel",
        "train_metarm",
        "meta_score",
        "resample_hinted",
        *release_actions(lambda runs: [{"run": sorted(runs.values_list("id", flat=True))}]),
    ]
    search_fields = ("dataset__name", "model_config__name", "error_message")
    list_select_related = ("dataset", "model_config", "created_by")
    date_hierarchy = "created_at"
    # What the workers write: the status, the counters, the report, the errors. A run is started from its
    # dataset's page (services.runs), stopped by the cancel action; only its round may be changed here.
    readonly_fields = (
        "status",
        "queries_total",
        "queries_done",
        "samples_done",
        "parse_failures",
        "forced_samples",
        "tokens_generated",
        "generation_seconds",
        "failed_query_ids",
        "report",
        "error_message",
        "started_at",
        "finished_at",
        "created_at",
        "meta_status",
        "meta_scored",
        "meta_error",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the dataset page's run form and the API create runs, through services.runs

    def get_readonly_fields(self, request: HttpRequest, obj: Run | None = None) -> Any:
        if obj is not None and not obj.is_active:  # finished: what it did is a record; its round may move
            return [field.name for field in Run._meta.fields if field.name != "rft_round"]
        return self.readonly_fields

    @admin.action(description="Cancel the selected runs (batches not started are skipped)", permissions=ADMIN_ROLE)
    def cancel(self, request: HttpRequest, queryset: Any) -> None:
        for run in queryset.order_by("id"):
            if run_services.run_cancel(run=run):
                self.message_user(request, f"Run {run.id} cancelled.")
            else:
                self.message_user(request, f"Run {run.id} had already ended.", level=messages.WARNING)

    @admin.action(description="Train a meta RM (cpu profile) on the selected runs", permissions=ADMIN_ROLE)
    def train_metarm(self, request: HttpRequest, queryset: Any) -> None:
        try:
            checkpoint = metarm_services.checkpoint_train_start(
                runs=list(queryset.order_by("id")), created_by=request.user if request.user.is_authenticated else None
            )
        except ApplicationError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
        else:
            self.message_user(request, f"Meta RM {checkpoint.name} queued for training on a gpu-queue worker.")

    @admin.action(description="Meta-score the selected runs with the active meta RM", permissions=ADMIN_ROLE)
    def meta_score(self, request: HttpRequest, queryset: Any) -> None:
        for run in queryset.order_by("id"):
            try:
                metarm_services.run_meta_request(run=run)
            except ApplicationError as exc:
                self.message_user(request, f"Run {run.id}: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, f"Run {run.id}: meta scoring asked for.")

    @admin.action(description="Resample failed queries with the hint", permissions=ADMIN_ROLE)
    def resample_hinted(self, request: HttpRequest, queryset: Any) -> None:
        created_by = request.user if isinstance(request.user, User) else None
        for run in queryset.order_by("id"):
            try:
                hinted = run_services.run_create_hinted(run=run, created_by=created_by)
            except ApplicationError as exc:
                self.message_user(request, f"Run {run.id}: {exc}", level=messages.ERROR)
            else:
                n = hinted.queries_total
                self.message_user(
                    request, f"Run {run.id}: hinted run {hinted.id} queued, {n} {'query' if n == 1 else 'queries'}."
                )


@admin.register(MetaRmCheckpoint)
class MetaRmCheckpointAdmin(AdminRoleActions, admin.ModelAdmin):
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

    @admin.action(description="Make the selected checkpoint the active one", permissions=ADMIN_ROLE)
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
    list_display = ("id", "run", "query", "sample_index", "parse_status", "forced", "meta_score", "correct", "decision")
    list_filter = ("parse_status", "forced", "hinted", "correct", "decision", "decision_source", "run")
    search_fields = ("query__external_id", "principles", "critique")
    list_select_related = ("run__dataset", "run__model_config", "query")
    raw_id_fields = ("run", "query")
    show_full_result_count = False
    # Decided by the rules, reviewers and adjudication (services.decisions), never typed in here.
    readonly_fields = ("correct", "rule_reason", *DECISION_FIELDS)


@admin.register(Verdict)
class VerdictAdmin(admin.ModelAdmin):
    list_display = ("id", "run", "query", "valid_samples", "best_index", "correct", "meta_best_index", "meta_correct")
    list_filter = ("correct", "meta_correct", "tie_broken", "run")
    search_fields = ("query__external_id",)
    list_select_related = ("run__dataset", "run__model_config", "query")
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

    # An annotation moves its sample's decision: recompute it as `annotation_submit` does. Deletions, here
    # or cascading from a reviewer's account, are recomputed by `reviews.signals`.
    def save_model(self, request: HttpRequest, obj: Annotation, form: Any, change: bool) -> None:
        before = Annotation.objects.filter(pk=obj.pk).values_list("sample_id", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        decisions_apply(sample_ids=[sample_id for sample_id in (before, obj.sample_id) if sample_id is not None])


@admin.register(Adjudication)
class AdjudicationAdmin(admin.ModelAdmin):
    """Admins' decisions on samples their reviewers disagree on: made on the query page or the API (the
    service recomputes the sample's decision), listed here read-only."""

    list_display = ("id", "sample", "decision", "adjudicated_by", "short_note", "updated_at")
    list_filter = ("decision", "adjudicated_by")
    search_fields = ("note", "adjudicated_by__username", "sample__query__external_id")
    list_select_related = ("sample", "adjudicated_by")
    date_hierarchy = "created_at"
    show_full_result_count = False

    @admin.display(description="note")
    def short_note(self, obj: Adjudication) -> str:
        return obj.note[:120]

    # The admin role's permissions predate the model: the role, not a model permission, decides who sees it.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    """Releases are built from the actions on datasets, runs and rounds, the releases page, the API or
    `manage.py export_release`; the release page shows the manifest and serves the files."""

    list_display = (
        "name",
        "version",
        "kind",
        "status",
        "progress_percent",
        "rft_round",
        "short_sha256",
        "created_by",
        "created_at",
        "page",
    )
    list_filter = ("kind", "status", "rft_round")
    search_fields = ("name", "sha256")
    list_select_related = ("rft_round", "created_by")

    @admin.display(description="sha256")
    def short_sha256(self, obj: Release) -> str:
        return obj.sha256[:12]

    @admin.display(description="release page")
    def page(self, obj: Release) -> str:
        return format_html('<a href="{}">manifest and files</a>', reverse("release-detail", args=[obj.pk]))

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
class ApiTokenAdmin(AdminRoleActions, admin.ModelAdmin):
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

    @admin.action(description="Revoke the selected tokens", permissions=ADMIN_ROLE)
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for token in queryset:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {queryset.count()} token(s).")


class UploadErrorInline(admin.TabularInline):
    model = UploadError
    fields = ("line", "field", "message")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    """Uploads as the API and the pages received them, with their outcome and bad lines: a record, read only
    (the worker writes the outcome)."""

    list_display = ("id", "dataset_name", "format", "status", "items", "created", "unchanged", "error_count",
                    "size_bytes", "created_by", "created_at")  # fmt: skip
    list_filter = ("status", "format", "partial", "dataset")
    search_fields = ("dataset_name", "filename", "message")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    inlines = [UploadErrorInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Upload | None = None) -> bool:
        return False


@admin.register(ReviewQueue)
class ReviewQueueAdmin(AdminRoleActions, admin.ModelAdmin):
    """Queues with their progress. What a queue holds was fixed when it was built (services.queues); its
    name, description and whether reviewers see it can change here, its guidelines on its own page."""

    list_display = ("id", "name", "dataset", "run", "priority", "item_count", "completed_count",
                    "reviewers_per_item", "active", "created_by", "created_at")  # fmt: skip
    list_filter = ("active", "priority", "dataset")
    search_fields = ("name", "description", "dataset__name")
    list_select_related = ("dataset", "run__dataset", "run__model_config", "created_by")
    date_hierarchy = "created_at"
    fields = ("name", "description", "active", "guidelines_page", "dataset", "run", "filters", "priority",
              "reviewers_per_item", "reservation_seconds", "item_count", "completed_count", "created_by",
              "created_at")  # fmt: skip
    readonly_fields = ("guidelines_page", "dataset", "run", "filters", "priority", "reviewers_per_item",
                       "reservation_seconds", "item_count", "completed_count", "created_by", "created_at")  # fmt: skip
    actions = ["deactivate", "activate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # built from a run or a dataset on the new-queue page (services.queues.queue_create)

    @admin.display(description="Guidelines")
    def guidelines_page(self, queue: ReviewQueue) -> str:
        url = reverse("queue-guidelines", args=[queue.pk])
        return format_html('<a href="{}">{}</a>', url, "edit" if queue.guidelines else "write")

    @admin.action(description="Hide the selected queues from reviewers", permissions=ADMIN_ROLE)
    def deactivate(self, request: HttpRequest, queryset: Any) -> None:
        for queue in queryset:
            queue_services.queue_active_set(queue=queue, active=False)
        self.message_user(request, f"{queryset.count()} queue(s) hidden from reviewers.")

    @admin.action(description="Show the selected queues to reviewers again", permissions=ADMIN_ROLE)
    def activate(self, request: HttpRequest, queryset: Any) -> None:
        for queue in queryset:
            queue_services.queue_active_set(queue=queue, active=True)
        self.message_user(request, f"{queryset.count()} queue(s) shown to reviewers.")
