"""Runs: the prompt template and model a run uses, the RFT round it belongs to, its samples and verdicts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reviews.models.datasets import Dataset, Query
from workers.grm.rft import RULE_REASONS, Decision, Reason, Source

RULE_CHOICES = [(reason.value, reason.value.replace("_", " ")) for reason in RULE_REASONS]
REASONS = [(reason.value, reason.value.replace("_", " ")) for reason in Reason]
DECISIONS = [(decision.value, decision.value) for decision in Decision]
SOURCES = [(source.value, source.value) for source in Source]


class PromptTemplate(models.Model):
    """Versioned prompt text with named placeholders; versions are never edited in place."""

    name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    text = models.TextField()
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    score_low = models.SmallIntegerField(default=1, help_text="The lowest score the template asks for.")
    score_high = models.SmallIntegerField(default=10, help_text="The highest score the template asks for.")
    single_response = models.BooleanField(
        default=False, help_text="Written for one response per query (the paper's 0/1 single-response mode)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="template_unique_version"),
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="template_one_default"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ModelConfig(models.Model):
    class Backend(models.TextChoices):
        TRANSFORMERS = "transformers", "transformers (CPU or GPU)"
        VLLM = "vllm", "vLLM (in-process GPU)"
        OPENAI = "openai", "OpenAI-compatible server"

    name = models.SlugField(max_length=100, unique=True)
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.TRANSFORMERS)
    model = models.CharField(max_length=500, help_text="A local path, a hub name, or the built-in default.")
    base_url = models.URLField(blank=True, help_text="For the openai backend: the server's /v1 URL.")
    generation_params = models.JSONField(
        default=dict, blank=True, help_text="Extra backend parameters; context_window shortens the model's window."
    )
    context_window = models.PositiveIntegerField(
        null=True, blank=True, help_text="Tokens a sequence may hold, as a worker found when it loaded the model."
    )
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="modelconfig_one_default")
        ]

    def __str__(self) -> str:
        return self.name


class Round(models.Model):
    """A rejective fine-tuning round: its runs produce the data that trains the next model."""

    number = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    model_config = models.ForeignKey(
        ModelConfig,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rounds",
        help_text="The GRM checkpoint this round evaluates (the model the parent round's data trained).",
    )
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Round {self.number}" + (f" ({self.name})" if self.name else "")


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Phase(models.TextChoices):
        """What a worker is doing for the run now (services.runs.run_phase_set); empty: nothing yet."""

        LOADING = "loading", "loading the model"
        GENERATING = "generating", "generating"
        AGGREGATING = "aggregating", "computing the report"

    class MetaStatus(models.TextChoices):
        """Where the run's meta scoring stands."""

        NONE = "none", "not asked"
        WAITING = "waiting", "waiting for sampling to finish"
        QUEUED = "queued"
        SCORING = "scoring"
        DONE = "done"
        FAILED = "failed"

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="runs")
    query_filter = models.JSONField(
        default=dict, blank=True, help_text="Restricts the run to part of the dataset, e.g. {'subset': 'chat'}."
    )
    model_config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="runs")
    template = models.ForeignKey(PromptTemplate, on_delete=models.PROTECT, related_name="runs")
    rft_round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    k = models.PositiveSmallIntegerField(help_text="Samples per query.")
    k_meta = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Samples kept by the meta RM.")
    meta_checkpoint = models.ForeignKey(
        "reviews.MetaRmCheckpoint", null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    meta_status = models.CharField(max_length=20, choices=MetaStatus.choices, default=MetaStatus.NONE)
    meta_scored = models.PositiveIntegerField(default=0, help_text="Samples the meta RM has scored.")
    meta_error = models.TextField(blank=True)
    temperature = models.FloatField(default=0.5)
    max_tokens = models.PositiveIntegerField(default=1024)
    seed = models.BigIntegerField(default=0)
    hinted = models.BooleanField(default=False, help_text="Append the ground-truth hint (RFT data collection).")
    source_run = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resamples",
        help_text="For a hinted resampling: the run whose queries every sample failed.",
    )
    force_scores = models.BooleanField(
        default=False, help_text="Continue a sample without valid scores under a score-only constraint."
    )
    min_tokens = models.PositiveIntegerField(default=0, help_text="Minimum new tokens per sample (benchmarks).")
    batch_size = models.PositiveSmallIntegerField(default=8, help_text="Queries per worker task.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=20, choices=Phase.choices, blank=True)
    queries_total = models.PositiveIntegerField(default=0)
    queries_done = models.PositiveIntegerField(default=0)
    samples_done = models.PositiveIntegerField(default=0)
    parse_failures = models.PositiveIntegerField(default=0, help_text="Samples without valid scores.")
    forced_samples = models.PositiveIntegerField(default=0, help_text="Samples whose scores were forced.")
    tokens_generated = models.BigIntegerField(default=0)
    generation_seconds = models.FloatField(default=0.0)
    failed_query_ids = models.JSONField(default=list, blank=True, help_text="Queries whose batch failed for good.")
    skipped_queries = models.JSONField(
        default=dict,
        blank=True,
        help_text="Queries not judged because their prompt and max tokens exceed the model's context window: "
        "{query id: {prompt_tokens, window}}.",
    )
    report = models.JSONField(
        default=dict, blank=True, help_text="Computed when the run ends: accuracy as k grows, bias diagnostics."
    )
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="run_status_created"),
            models.Index(fields=["dataset", "-created_at"], name="run_dataset_created"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk}: {self.label}"

    @property
    def label(self) -> str:
        """What names a run: its dataset, its model and k (select them with the run: this reads both)."""
        return f"{self.dataset.name} · {self.model_config.name} · k={self.k}"

    @property
    def samples_total(self) -> int:
        return self.queries_total * self.k

    @property
    def samples_finished(self) -> int:
        """Samples stored, and those of queries whose batch failed for good or that were skipped (too
        long for the model): what the bar counts."""
        return self.samples_done + (len(self.failed_query_ids or []) + len(self.skipped_queries or {})) * self.k

    @property
    def samples_percent(self) -> int:
        total = self.samples_total
        return min(100, int(100 * self.samples_finished / total)) if total else 0

    @property
    def activity(self) -> str:
        """One line for what the run is doing, the same on every page: its status, or while it runs,
        its phase (waiting for a worker until a worker takes a batch)."""
        if self.status == self.Status.QUEUED or (self.status == self.Status.RUNNING and not self.phase):
            return "waiting for a worker"
        if self.status == self.Status.RUNNING or self.phase == self.Phase.AGGREGATING:
            return self.get_phase_display()
        return self.get_status_display()

    @property
    def samples_per_minute(self) -> float | None:
        """Samples stored per minute since the run started (model loading included)."""
        if not self.started_at or not self.samples_done:
            return None
        end = self.finished_at or timezone.now()
        minutes = (end - self.started_at).total_seconds() / 60
        return self.samples_done / minutes if minutes > 0 else None

    @property
    def seconds_left(self) -> int | None:
        """The time the samples left would take at the rate so far; None until there is a rate."""
        rate = self.samples_per_minute
        if not self.is_active or rate is None:
            return None
        return int(60 * max(0, self.samples_total - self.samples_finished) / rate)

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def tokens_per_second(self) -> float | None:
        """Generated tokens per second of generation time."""
        return self.tokens_generated / self.generation_seconds if self.generation_seconds else None


class Sample(models.Model):
    """One GRM judgment of one query: principles, critique and a score per response."""

    class ParseStatus(models.TextChoices):
        OK = "ok", "parsed"
        NO_SCORES = "no_scores", "no score box"
        WRONG_COUNT = "wrong_count", "wrong number of scores"
        OUT_OF_RANGE = "out_of_range", "score outside 1-10"
        NOT_INTEGER = "not_integer", "score not an integer"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="samples")
    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="samples")
    sample_index = models.PositiveSmallIntegerField()
    permutation = models.JSONField(help_text="Shown order: permutation[i] = original position shown at i.")
    raw_text = models.TextField()
    principles = models.TextField(blank=True)
    critique = models.TextField(blank=True)
    scores = models.JSONField(null=True, blank=True, help_text="Scores in the original response order.")
    parse_status = models.CharField(max_length=20, choices=ParseStatus.choices)
    sections_missing = models.BooleanField(default=False, help_text="Principles or critique heading absent.")
    forced = models.BooleanField(default=False, help_text="Scores obtained by constrained continuation.")
    hinted = models.BooleanField(default=False)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    meta_score = models.FloatField(null=True, blank=True, help_text="Meta-RM logit.")
    correct = models.BooleanField(null=True, blank=True, help_text="Eq. 10 against the label; empty if unlabelled.")
    # Rejective fine-tuning (GRM_SPEC 6): the rule's outcome, then the decision once people have looked
    # (workers.grm.rft.final_decision); services.decisions keeps both current.
    rule_reason = models.CharField(max_length=20, choices=RULE_CHOICES, blank=True)
    decision = models.CharField(max_length=10, choices=DECISIONS, blank=True)
    decision_reason = models.CharField(max_length=20, choices=REASONS, blank=True)
    decision_source = models.CharField(max_length=15, choices=SOURCES, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "query_id", "sample_index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "query", "sample_index"], name="sample_unique_index"),
        ]
        indexes = [
            models.Index(fields=["run", "parse_status"], name="sample_run_parse"),
            models.Index(fields=["run", "correct"], name="sample_run_correct"),
            models.Index(fields=["run", "meta_score"], name="sample_run_meta"),
            models.Index(fields=["run", "decision"], name="sample_run_decision"),
        ]

    def __str__(self) -> str:
        return f"Sample {self.sample_index} of query {self.query_id} in run {self.run_id}"


class Verdict(models.Model):
    """The aggregate judgment of one query in one run (Voting@k and MetaRM@k)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="verdicts")
    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="verdicts")
    valid_samples = models.PositiveSmallIntegerField(default=0)
    vote_totals = models.JSONField(default=list, help_text="Voting@k: summed scores in original order.")
    best_index = models.PositiveSmallIntegerField(null=True, blank=True)
    correct = models.BooleanField(null=True, blank=True)
    tie_broken = models.BooleanField(default=False)
    meta_vote_totals = models.JSONField(null=True, blank=True)
    meta_best_index = models.PositiveSmallIntegerField(null=True, blank=True)
    meta_correct = models.BooleanField(null=True, blank=True)
    vote_entropy = models.FloatField(null=True, blank=True, help_text="Disagreement between samples' choices.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["run_id", "query_id"]
        constraints = [models.UniqueConstraint(fields=["run", "query"], name="verdict_unique_query")]
        indexes = [
            models.Index(fields=["run", "correct"], name="verdict_run_correct"),
            models.Index(fields=["run", "-vote_entropy"], name="verdict_run_entropy"),
        ]

    def __str__(self) -> str:
        return f"Verdict on query {self.query_id} in run {self.run_id}"


class RunEvent(models.Model):
    """One line of a run's error log, shown on its page: a batch that failed for good or was tried
    again, a run resumed after it stalled, a meta scoring that failed. `Run.error_message` keeps the
    short summary; this keeps each occurrence, when, where and on which attempt."""

    class Kind(models.TextChoices):
        BATCH_FAILED = "batch_failed", "batch failed"
        BATCH_RETRIED = "batch_retried", "batch tried again"
        RESUMED = "resumed", "resumed after a stall"
        META_FAILED = "meta_failed", "meta scoring failed"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.TextField()
    queries = models.PositiveIntegerField(default=0, help_text="Queries in the batch concerned.")
    attempt = models.PositiveSmallIntegerField(default=0, help_text="Deliveries of the task before this one.")
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["run_id", "-created_at", "-id"]
        indexes = [models.Index(fields=["run", "-created_at"], name="runevent_run_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} in run {self.run_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"
