"""The data model: what was uploaded, what the GRM sampled, what reviewers decided, what was released.

Models hold fields, constraints and indexes only; writes go through `reviews.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Dataset(models.Model):
    name = models.SlugField(max_length=100, unique=True, help_text="Letters, digits, - and _.")
    description = models.TextField(blank=True)
    source = models.CharField(max_length=500, blank=True, help_text="Where the data came from.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Query(models.Model):
    """One item to judge: a conversation whose last user turn is the query, and its responses."""

    # No index of its own: the unique (dataset, external_id) index serves lookups by dataset.
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="queries", db_index=False)
    external_id = models.CharField(max_length=200, help_text="The uploader's id, unique in its dataset.")
    subset = models.CharField(max_length=100, blank=True, help_text="Category, e.g. chat or reasoning.")
    context = models.JSONField(help_text="Chat messages [{role, content}]; the last one is the user's query.")
    prompt = models.TextField(blank=True, help_text="The last user turn as plain text, for lists and search.")
    best_index = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="0-based position of the labelled best response."
    )
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Labelled 1-10 score of a single response."
    )
    content_hash = models.CharField(max_length=64, help_text="sha256 of the content, for idempotent re-imports.")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "queries"
        ordering = ["dataset_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "external_id"], name="query_unique_external_id"),
            models.CheckConstraint(
                condition=Q(best_index__isnull=True) | Q(rating__isnull=True), name="query_one_label_kind"
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=10), name="query_rating_1_10"
            ),
        ]
        indexes = [models.Index(fields=["dataset", "subset"], name="query_dataset_subset")]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.external_id}"


class Response(models.Model):
    # No index of its own: the unique (query, position) index serves lookups by query.
    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="responses", db_index=False)
    position = models.PositiveSmallIntegerField(help_text="0-based position in the uploaded order.")
    text = models.TextField()
    metadata = models.JSONField(default=dict, blank=True, help_text="E.g. the policy model that wrote it.")

    class Meta:
        ordering = ["query_id", "position"]
        constraints = [models.UniqueConstraint(fields=["query", "position"], name="response_unique_position")]

    def __str__(self) -> str:
        return f"{self.query_id}#{self.position}"


class PromptTemplate(models.Model):
    """Versioned prompt text with named placeholders; versions are never edited in place."""

    name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField(default=1)
    text = models.TextField()
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
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
    generation_params = models.JSONField(default=dict, blank=True, help_text="Extra backend parameters.")
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
    notes = models.TextField(blank=True)
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

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="runs")
    query_filter = models.JSONField(
        default=dict, blank=True, help_text="Restricts the run to part of the dataset, e.g. {'subset': 'chat'}."
    )
    model_config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="runs")
    template = models.ForeignKey(PromptTemplate, on_delete=models.PROTECT, related_name="runs")
    rft_round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    k = models.PositiveSmallIntegerField(help_text="Samples per query.")
    k_meta = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Samples kept by the meta RM.")
    temperature = models.FloatField(default=0.5)
    max_tokens = models.PositiveIntegerField(default=1024)
    seed = models.BigIntegerField(default=0)
    hinted = models.BooleanField(default=False, help_text="Append the ground-truth hint (RFT data collection).")
    force_scores = models.BooleanField(
        default=False, help_text="Continue a sample without valid scores under a score-only constraint."
    )
    min_tokens = models.PositiveIntegerField(default=0, help_text="Minimum new tokens per sample (benchmarks).")
    batch_size = models.PositiveSmallIntegerField(default=8, help_text="Queries per worker task.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    queries_total = models.PositiveIntegerField(default=0)
    queries_done = models.PositiveIntegerField(default=0)
    samples_done = models.PositiveIntegerField(default=0)
    parse_failures = models.PositiveIntegerField(default=0, help_text="Samples without valid scores.")
    forced_samples = models.PositiveIntegerField(default=0, help_text="Samples whose scores were forced.")
    tokens_generated = models.BigIntegerField(default=0)
    generation_seconds = models.FloatField(default=0.0)
    failed_query_ids = models.JSONField(default=list, blank=True, help_text="Queries whose batch failed for good.")
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
        return f"Run {self.pk} on {self.dataset_id} (k={self.k})"

    @property
    def progress_percent(self) -> int:
        finished = self.queries_done + len(self.failed_query_ids or [])
        return int(100 * finished / self.queries_total) if self.queries_total else 0

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


class FailureMode(models.Model):
    """The taxonomy reviewers tag judgments with; admins extend it."""

    code = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order in forms; digits 1-9 toggle the first nine."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.label


class Annotation(models.Model):
    """A reviewer's decision on a sample or a query; one per (target, reviewer)."""

    class Decision(models.TextChoices):
        ACCEPT = "accept"
        REJECT = "reject"

    sample = models.ForeignKey(Sample, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations")
    query = models.ForeignKey(Query, null=True, blank=True, on_delete=models.CASCADE, related_name="annotations")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    failure_modes = models.ManyToManyField(FailureMode, blank=True, related_name="annotations")
    note = models.TextField(blank=True)
    corrected_scores = models.JSONField(null=True, blank=True, help_text="The reviewer's scores, original order.")
    time_spent_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(sample__isnull=False) & Q(query__isnull=True))
                | (Q(sample__isnull=True) & Q(query__isnull=False)),
                name="annotation_one_target",
            ),
            models.UniqueConstraint(
                fields=["sample", "reviewer"], condition=Q(sample__isnull=False), name="annotation_unique_sample"
            ),
            models.UniqueConstraint(
                fields=["query", "reviewer"], condition=Q(query__isnull=False), name="annotation_unique_query"
            ),
        ]
        indexes = [
            models.Index(fields=["reviewer", "-created_at"], name="annotation_reviewer_recent"),
            models.Index(fields=["decision"], name="annotation_decision"),
        ]

    def __str__(self) -> str:
        target = f"sample {self.sample_id}" if self.sample_id else f"query {self.query_id}"
        return f"{self.decision} on {target} by {self.reviewer_id}"


class Release(models.Model):
    """An immutable export of curated training data: what was filtered, counted and hashed."""

    class Kind(models.TextChoices):
        RFT_ACCEPTED = "rft_accepted", "accepted trajectories (RFT)"
        REJECTED = "rejected", "rejected trajectories"
        METARM_LABELS = "metarm_labels", "meta-RM labels"
        RL_PROMPTS = "rl_prompts", "RL prompts with labels"
        PREFERENCE_PAIRS = "preference_pairs", "preference pairs"

    class Format(models.TextChoices):
        JSONL = "jsonl", "JSON Lines"
        TRL = "trl", "TRL"
        OPENRLHF = "openrlhf", "OpenRLHF"

    name = models.SlugField(max_length=100)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=30, choices=Kind.choices)
    format = models.CharField(max_length=20, choices=Format.choices, default=Format.JSONL)
    rft_round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.PROTECT, related_name="releases")
    filters = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to="releases/")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="releases"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="release_unique_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ApiToken(models.Model):
    """A personal API token. Only its sha256 is stored; the token itself is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the script using it.")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to recognise it.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}) of {self.user_id}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Upload(models.Model):
    """A file sent to the upload API: received to disk by the web process, ingested by a cpu task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        INGESTING = "ingesting", "ingesting"
        DONE = "done", "done: every line stored or already there"
        PARTIAL = "partial", "partial: good lines stored, bad lines reported"
        REJECTED = "rejected", "rejected: bad lines, nothing stored"
        FAILED = "failed", "failed: the upload could not be read"

    ENDED = (Status.DONE, Status.PARTIAL, Status.REJECTED, Status.FAILED)

    dataset_name = models.CharField(max_length=100, help_text="The dataset to fill (created if missing).")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="uploads")
    format = models.CharField(max_length=20)
    field_map = models.JSONField(default=dict, blank=True, help_text="The file's field names renamed to the format's.")
    subset = models.CharField(max_length=100, blank=True, help_text="Subset for records that name none.")
    partial = models.BooleanField(default=False, help_text="Store the good lines even if some are bad.")
    filename = models.CharField(max_length=255, blank=True, help_text="The multipart file's name, if any.")
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    items = models.PositiveIntegerField(default=0, help_text="Items read, good and bad.")
    created = models.PositiveIntegerField(default=0, help_text="New queries stored.")
    unchanged = models.PositiveIntegerField(default=0, help_text="Items already stored with the same content.")
    error_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, help_text="What happened, in one sentence.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="uploads"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"upload {self.pk} into {self.dataset_name} ({self.status})"


class UploadError(models.Model):
    """One problem with one line of an upload (the first MAX_REPORTED_ERRORS are kept)."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="errors")
    line = models.PositiveIntegerField(help_text="1-based line of the file; 0 for the upload as a whole.")
    field = models.CharField(max_length=200, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["upload_id", "line", "id"]
        indexes = [models.Index(fields=["upload", "line"], name="uploaderror_upload_line")]

    def __str__(self) -> str:
        return f"upload {self.upload_id} line {self.line}: {self.message}"


class ReviewQueue(models.Model):
    """Items an admin hands to reviewers: a run's judgments (samples) or a dataset's queries."""

    class Priority(models.TextChoices):
        AUTO_REJECTED = "auto_rejected", "auto-rejected first (wrong or unparsed judgments)"
        DISAGREEMENT = "disagreement", "highest disagreement between samples first (vote entropy)"
        META_UNCERTAIN = "meta_uncertain", "meta score nearest 0.5 first"
        UNREVIEWED = "unreviewed", "unreviewed first, then in order"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="review_queues")
    run = models.ForeignKey(
        Run,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="review_queues",
        help_text="Review this run's judgments; empty: review the dataset's queries.",
    )
    filters = models.JSONField(default=dict, blank=True, help_text="subset, correct, parse_status.")
    priority = models.CharField(max_length=20, choices=Priority.choices, default=Priority.UNREVIEWED)
    reviewers_per_item = models.PositiveSmallIntegerField(default=1)
    reservation_seconds = models.PositiveIntegerField(default=600, help_text="How long a taken item stays yours.")
    item_count = models.PositiveIntegerField(default=0)
    completed_count = models.PositiveIntegerField(default=0, help_text="Items with all the reviews they need.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class QueueItem(models.Model):
    """One thing to review in a queue, at its place in the queue's order (`rank`, lowest first)."""

    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="items")
    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="+")
    sample = models.ForeignKey(Sample, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField()
    done_count = models.PositiveSmallIntegerField(default=0, help_text="Reviewers who annotated it.")
    is_open = models.BooleanField(default=True, help_text="Fewer reviewers than the queue asks for so far.")

    class Meta:
        ordering = ["queue_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "rank"], name="queueitem_unique_rank"),
            models.UniqueConstraint(fields=["queue", "query", "sample"], name="queueitem_unique_target"),
        ]
        indexes = [models.Index(fields=["queue", "is_open", "rank"], name="queueitem_open")]

    def __str__(self) -> str:
        return f"item {self.rank} of queue {self.queue_id}"


class Assignment(models.Model):
    """A reviewer's hold on a queue item: reserved until `expires_at`, then done or skipped."""

    class State(models.TextChoices):
        RESERVED = "reserved"
        DONE = "done"
        SKIPPED = "skipped"

    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="assignments")
    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RESERVED)
    reserved_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-reserved_at"]
        constraints = [models.UniqueConstraint(fields=["item", "reviewer"], name="assignment_unique_reviewer")]
        indexes = [
            models.Index(fields=["queue", "reviewer", "state"], name="assignment_queue_reviewer"),
            models.Index(fields=["item", "state", "expires_at"], name="assignment_item_active"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} on {self.item_id} ({self.state})"
