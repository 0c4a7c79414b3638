"""Forms: input validation for pages; the writes themselves happen in services."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.urls import reverse

from reviews.ingest.formats import parse_field_map
from reviews.ingest.preview import PREVIEW_HEAD_CHARS
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
    ReviewQueue,
    Round,
    Run,
    Sample,
)
from reviews.selectors.datasets import NO_SUBSET, dataset_subsets
from reviews.selectors.metarm import checkpoint_active, checkpoints_ready
from reviews.selectors.search import VERDICTS
from reviews.services.datasets import dataset_name_errors
from reviews.services.runs import RUN_PARAMETERS
from workers.grm.voting import default_k_meta


def _lookup_value_is_safe(value: Any, *, by_id: bool) -> bool:
    """A value the database can be asked for: an id within 64 bits, a name without NUL (PostgreSQL
    refuses it in a query, SQLite overflows on larger integers: a 500 otherwise)."""
    text = str(value)
    if by_id:
        return text.isdecimal() and int(text) < 2**63
    return "\x00" not in text


class RunChoiceField(forms.ModelChoiceField):
    """A run by id (`?a=12`)."""

    def to_python(self, value: Any) -> Any:
        if value not in self.empty_values and not _lookup_value_is_safe(value, by_id=True):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class CheckpointChoiceField(forms.ModelChoiceField):
    """A ready meta RM checkpoint, by name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("to_field_name", "name")
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> Any:
        if value not in self.empty_values and not _lookup_value_is_safe(value, by_id=False):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} (active)" if obj.is_active else str(obj.name)


class RoundChoiceField(forms.ModelChoiceField):
    """An RFT round, by number."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("to_field_name", "number")
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> Any:
        if value not in self.empty_values and not _lookup_value_is_safe(value, by_id=True):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


def _number_field(name: str) -> forms.Field:
    """A run parameter's form field, with the range, default and help that `run_create` enforces."""
    limit = RUN_PARAMETERS[name]
    if isinstance(limit.default, float):
        return forms.FloatField(min_value=limit.low, max_value=limit.high, initial=limit.default, help_text=limit.help)
    return forms.IntegerField(
        min_value=int(limit.low), max_value=int(limit.high), initial=limit.default, help_text=limit.help
    )


class QueryIdsField(forms.CharField):
    """Query ids as a person pastes them: one per line, or separated by commas or spaces."""

    widget = forms.Textarea(attrs={"rows": 2})

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [part for part in text.replace(",", " ").split() if part]


class RunForm(forms.Form):
    model_config = forms.ModelChoiceField(queryset=ModelConfig.objects.all(), empty_label=None)
    template = forms.ModelChoiceField(queryset=PromptTemplate.objects.all(), empty_label=None)
    subset = forms.ChoiceField(required=False, help_text="Leave empty for the whole dataset.")
    query_ids = QueryIdsField(
        required=False,
        max_length=200_000,
        label="Query ids",
        help_text="Only these queries (their ids in the dataset, one per line or separated by commas).",
    )
    sample_size = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10_000_000,
        label="Random sample",
        help_text="Judge N queries drawn at random from those chosen above (empty: all of them).",
    )
    sample_seed = forms.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, initial=0, help_text="The same seed draws the same queries."
    )
    k = _number_field("k")
    temperature = _number_field("temperature")
    max_tokens = _number_field("max_tokens")
    seed = _number_field("seed")
    batch_size = _number_field("batch_size")
    hinted = forms.BooleanField(required=False, help_text="Name the labelled best in the prompt (RFT data).")
    force_scores = forms.BooleanField(required=False, help_text="Constrain a sample without scores to give them.")
    k_meta = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=int(RUN_PARAMETERS["k"].high),
        label="k_meta",
        help_text="MetaRM@k: vote over the k_meta samples the meta RM trusts most (1 to k). Empty: no meta RM, "
        "unless a checkpoint is chosen (then k/2).",
    )
    meta_checkpoint = CheckpointChoiceField(
        queryset=MetaRmCheckpoint.objects.none(),
        required=False,
        empty_label="none (the active one when k_meta is set)",
        help_text="The meta RM that scores the samples once sampling ends.",
    )
    rft_round = RoundChoiceField(
        queryset=Round.objects.order_by("-number"),
        required=False,
        label="RFT round",
        empty_label="none",
        help_text="The rejective fine-tuning round this run belongs to.",
    )

    def __init__(self, *args: Any, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        subset_field = self.fields["subset"]
        assert isinstance(subset_field, forms.ChoiceField)
        subset_field.choices = [("", "All subsets"), *dataset_subsets(dataset=dataset)]
        default_model = ModelConfig.objects.filter(is_default=True).first()
        default_template = PromptTemplate.objects.filter(is_default=True).first()
        self.fields["model_config"].initial = default_model
        self.fields["template"].initial = default_template
        # The built-in model often writes no score line; forced scores keep its runs readable (the run
        # page says a run forced them).
        builtin = default_model is not None and default_model.model == settings.GRM_BUILTIN_MODEL
        self.fields["force_scores"].initial = builtin
        checkpoint_field = self.fields["meta_checkpoint"]
        assert isinstance(checkpoint_field, forms.ModelChoiceField)
        checkpoint_field.queryset = checkpoints_ready()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        k, k_meta = data.get("k"), data.get("k_meta")
        if k is not None and k_meta is not None and k_meta > k:
            self.add_error("k_meta", f"k_meta must be from 1 to k ({k}).")
        return data


class MetaScoreForm(forms.Form):
    """Ask for MetaRM@k on a run: a ready checkpoint (empty: the active one) and k_meta (empty: k/2)."""

    checkpoint = CheckpointChoiceField(
        queryset=MetaRmCheckpoint.objects.none(), required=False, empty_label="the active checkpoint"
    )
    k_meta = forms.IntegerField(required=False, min_value=1, label="k_meta")

    def __init__(self, *args: Any, run: Run, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        checkpoint_field = self.fields["checkpoint"]
        assert isinstance(checkpoint_field, forms.ModelChoiceField)
        checkpoint_field.queryset = checkpoints_ready()
        if not self.is_bound:
            checkpoint_field.initial = checkpoint_active()
        k_meta = self.fields["k_meta"]
        assert isinstance(k_meta, forms.IntegerField)
        k_meta.max_value = run.k
        k_meta.validators.append(MaxValueValidator(run.k))
        k_meta.widget.attrs.update(max=run.k, placeholder=default_k_meta(run.k))
        k_meta.help_text = f"1 to {run.k}; empty: k/2 = {default_k_meta(run.k)}."
        if not self.is_bound and run.k_meta:
            k_meta.initial = run.k_meta


class FinishedRunChoiceField(forms.ModelMultipleChoiceField):
    def clean(self, value: Any) -> Any:
        for item in value if isinstance(value, list | tuple) else []:
            if not _lookup_value_is_safe(item, by_id=True):
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": item}
                )
        return super().clean(value)

    def label_from_instance(self, obj: Any) -> str:
        return f"#{obj.pk} · {obj.dataset.name} · {obj.model_config.name} · k = {obj.k} · T = {obj.temperature}"


class CheckpointTrainForm(forms.Form):
    runs = FinishedRunChoiceField(
        queryset=Run.objects.filter(status=Run.Status.DONE)
        .select_related("dataset", "model_config")
        .order_by("-created_at"),
        help_text="Finished runs whose labelled judgments (Eq. 10, or a reviewer's verdict) train it.",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    profile = forms.ChoiceField(choices=MetaRmCheckpoint.Profile.choices, initial=MetaRmCheckpoint.Profile.CPU)
    name = forms.SlugField(max_length=100, required=False, help_text="Empty: a name from the profile and runs.")
    base_model = forms.CharField(
        max_length=500, required=False, help_text="The backbone (a folder or hub name); empty: the profile's default."
    )


class CheckpointRegisterForm(forms.Form):
    name = forms.SlugField(max_length=100)
    location = forms.CharField(
        max_length=500,
        label="Folder or hub name",
        help_text="A sequence-classification checkpoint, e.g. BBQGOD/DeepSeek-GRM-27B-MetaRM (on a host that "
        "reaches the hub).",
    )


class RoundForm(forms.Form):
    """A new RFT round; its number is the next one, its parent the latest round unless one is chosen."""

    name = forms.CharField(max_length=200, required=False)
    parent = RoundChoiceField(
        queryset=Round.objects.order_by("-number"),
        required=False,
        empty_label="the latest round",
        help_text="The round whose data trained the model this round evaluates.",
    )
    model_config = forms.ModelChoiceField(
        queryset=ModelConfig.objects.all(),
        required=False,
        label="Evaluated model",
        empty_label="not recorded",
        help_text="The GRM checkpoint this round evaluates.",
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class RoundRunsForm(forms.Form):
    """Runs to add to a round: those in no round yet (the run's admin page moves a run between rounds)."""

    # FinishedRunChoiceField for its safe id check and its label; the queryset holds runs of any status.
    runs = FinishedRunChoiceField(
        queryset=Run.objects.filter(rft_round__isnull=True)
        .select_related("dataset", "model_config")
        .order_by("-created_at"),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )


class RunsFilterForm(forms.Form):
    """The runs page's filters (`?dataset=&model=&status=&round=`)."""

    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", required=False, empty_label="any dataset"
    )
    model = forms.ModelChoiceField(
        queryset=ModelConfig.objects.order_by("name"), to_field_name="name", required=False, empty_label="any model"
    )
    status = forms.ChoiceField(choices=[("", "any status"), *Run.Status.choices], required=False)
    round = RoundChoiceField(queryset=Round.objects.order_by("-number"), required=False, empty_label="any round")


class CompareForm(forms.Form):
    """The two runs of the compare page (`?a=ID&b=ID`); b may be missing while it is being chosen.
    Any run is accepted here: the comparison itself says when they judged different datasets."""

    a = RunChoiceField(queryset=Run.objects.select_related("dataset", "model_config"))
    b = RunChoiceField(queryset=Run.objects.select_related("dataset", "model_config"), required=False)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. the script that uses it.")


RUN_ONLY_PRIORITIES = (ReviewQueue.Priority.DISAGREEMENT, ReviewQueue.Priority.META_UNCERTAIN)
QUEUE_SOURCE_RUNS = 200  # the most recent runs offered; "review this run" links bring any other


def queue_source(value: str) -> Run | Dataset | None:
    """What a queue reviews, from its form value: "run:ID" (a run's judgments) or "dataset:NAME" (a
    dataset's queries and labels); None when there is no such run or dataset."""
    kind, _, key = (value or "").partition(":")
    if kind == "run" and _lookup_value_is_safe(key, by_id=True):
        return Run.objects.select_related("dataset", "model_config").filter(pk=int(key)).first()
    if kind == "dataset" and key and _lookup_value_is_safe(key, by_id=False):
        return Dataset.objects.filter(name=key).first()
    return None


class QueueForm(forms.Form):
    """A new review queue. It starts from what it reviews, a run or a dataset (`source`): the subsets
    offered are that dataset's, and a dataset's queue has no run-only choices."""

    source = forms.CharField(
        label="Review",
        widget=forms.Select,
        help_text="A run's judgments (one item per sample), or a dataset's queries and their labels.",
    )
    name = forms.CharField(max_length=200)
    subset = forms.ChoiceField(required=False)
    correct = forms.NullBooleanField(
        required=False,
        widget=forms.Select(choices=[("", "any"), ("true", "correct only"), ("false", "wrong only")]),
        help_text="Judgments right or wrong against the label.",
    )
    parse_status = forms.ChoiceField(choices=[("", "any"), *Sample.ParseStatus.choices], required=False)
    priority = forms.ChoiceField(choices=ReviewQueue.Priority.choices, initial=ReviewQueue.Priority.UNREVIEWED)
    reviewers_per_item = forms.IntegerField(min_value=1, max_value=10, initial=1)
    reservation_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=10)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    guidelines = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Markdown for the reviewers, shown beside each item and in the keyboard help (?).",
    )

    def __init__(self, *args: Any, source: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chosen = self.data.get("source", source) if self.is_bound else source
        self.chosen = queue_source(chosen)
        runs = list(Run.objects.select_related("dataset", "model_config").order_by("-created_at")[:QUEUE_SOURCE_RUNS])
        if isinstance(self.chosen, Run) and self.chosen not in runs:
            runs.insert(0, self.chosen)
        datasets = Dataset.objects.order_by("name")
        self.fields["source"].widget.choices = [
            ("", "choose a run or a dataset"),
            ("Runs: their judgments", [(f"run:{run.pk}", str(run)) for run in runs]),
            ("Datasets: their queries and labels", [(f"dataset:{d.name}", d.name) for d in datasets]),
        ]
        self.fields["source"].initial = chosen
        # Another source reloads the form (its subsets, its choices) in place.
        self.fields["source"].widget.attrs.update(
            {
                "hx-get": reverse("queue-new"),
                "hx-trigger": "change",
                "hx-target": "#queue-form",
                "hx-swap": "outerHTML",
                "hx-push-url": "true",
            }
        )
        dataset = self.chosen.dataset if isinstance(self.chosen, Run) else self.chosen
        subsets = dataset_subsets(dataset=dataset) if dataset is not None else []
        cast(forms.ChoiceField, self.fields["subset"]).choices = [("", "every subset"), *subsets]
        if isinstance(self.chosen, Run):
            self.fields["name"].initial = f"Run {self.chosen.pk}: {self.chosen.label}"
        elif isinstance(self.chosen, Dataset):
            self.fields["name"].initial = f"{self.chosen.name}: labels"
            del self.fields["correct"], self.fields["parse_status"]
            cast(forms.ChoiceField, self.fields["priority"]).choices = [
                choice for choice in ReviewQueue.Priority.choices if choice[0] not in RUN_ONLY_PRIORITIES
            ]

    def clean_source(self) -> Run | Dataset:
        if self.chosen is None:
            raise forms.ValidationError("Choose a run or a dataset that exists.")
        return self.chosen


class GuidelinesForm(forms.Form):
    guidelines = forms.CharField(
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Markdown (no raw HTML), shown beside each item and in the keyboard help (?).",
    )


class AnnotateForm(forms.Form):
    decision = forms.ChoiceField(choices=Annotation.Decision.choices)
    failure_modes = forms.ModelMultipleChoiceField(
        queryset=FailureMode.objects.filter(active=True), to_field_name="code", required=False
    )
    note = forms.CharField(required=False, max_length=10_000)
    time_spent_ms = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class MyAnnotationsForm(forms.Form):
    """The "my annotations" page's filters."""

    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", required=False, empty_label="any dataset"
    )
    run = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, label="Run id")
    decision = forms.ChoiceField(choices=[("", "accepted or rejected"), *Annotation.Decision.choices], required=False)
    failure_mode = forms.ModelChoiceField(
        queryset=FailureMode.objects.order_by("code"), to_field_name="code", required=False, empty_label="any mode"
    )
    text = forms.CharField(required=False, max_length=200, label="Note contains")
    since = forms.DateField(required=False, label="Changed since", widget=forms.DateInput(attrs={"type": "date"}))


class SearchForm(forms.Form):
    text = forms.CharField(
        required=False,
        max_length=200,
        label="Text",
        help_text="In the id, the user's query, the responses, and the judgments' principles and critiques.",
    )
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", required=False, empty_label="any dataset"
    )
    subset = forms.ChoiceField(required=False)
    run = RunChoiceField(
        queryset=Run.objects.select_related("dataset", "model_config").order_by("-created_at"),
        required=False,
        empty_label="any run",
    )
    verdict = forms.ChoiceField(
        required=False,
        choices=[("", "any verdict"), *VERDICTS.items()],
        help_text="The chosen run's verdict on the query.",
    )
    failure_mode = forms.ModelChoiceField(
        queryset=FailureMode.objects.all(), to_field_name="code", required=False, empty_label="any failure mode"
    )
    reviewer = forms.CharField(required=False, max_length=150, help_text="Username.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = Query.objects.order_by("subset").values_list("subset", flat=True).distinct()
        subsets = [(name or NO_SUBSET, name or "(none)") for name in names]
        cast(forms.ChoiceField, self.fields["subset"]).choices = [("", "any subset"), *subsets]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("verdict") and not data.get("run"):
            self.add_error("verdict", "Choose the run whose verdict this is.")
        return data


class AdjudicateForm(forms.Form):
    """An admin's decision on a sample its reviewers disagree on; the note says why and is kept."""

    decision = forms.ChoiceField(choices=Adjudication.Decision.choices, widget=forms.RadioSelect)
    note = forms.CharField(max_length=10_000, widget=forms.Textarea(attrs={"rows": 2}))


class ReleaseForm(forms.Form):
    """Define a release (docs/exports.md): its kind, what it selects and its split. The field names are
    the filters' names, so the service's error on a filter shows beside its field."""

    kind = forms.ChoiceField(choices=Release.Kind.choices)
    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="Letters, digits, - and _; empty: from the kind and filters. Building a name again makes its "
        "next version.",
    )
    dataset = forms.ModelMultipleChoiceField(
        queryset=Dataset.objects.order_by("name"),
        to_field_name="name",
        required=False,
        label="Datasets",
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text="Empty: every dataset.",
    )
    subset = forms.CharField(
        max_length=1000, required=False, label="Subsets", help_text="Comma-separated; empty: every subset."
    )
    # FinishedRunChoiceField for its safe id check and its label; the queryset holds runs of any status.
    run = FinishedRunChoiceField(
        queryset=Run.objects.select_related("dataset", "model_config").order_by("-created_at"),
        required=False,
        label="Runs",
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text="Empty: every run (rl_prompts: the default template).",
    )
    round = RoundChoiceField(
        queryset=Round.objects.order_by("-number"),
        required=False,
        label="RFT round",
        empty_label="any round",
        help_text="The runs of this round.",
    )
    reviewer_accepted = forms.BooleanField(
        required=False, label="Reviewer-accepted only", help_text="Only judgments a reviewer accepted."
    )
    failure_mode = forms.ModelChoiceField(
        queryset=FailureMode.objects.all(),
        to_field_name="code",
        required=False,
        empty_label="any",
        help_text="Only judgments a reviewer tagged with it.",
    )
    since = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Stored on or after this day (the sample; for rl_prompts the query).",
    )
    until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Stored on or before this day."
    )
    seed = forms.IntegerField(min_value=0, max_value=2**63 - 1, initial=0, help_text="Seeds the split by query.")
    validation_fraction = forms.FloatField(
        min_value=0, max_value=1, initial=0.1, help_text="The share of queries in validation, from 0 to below 1."
    )

    def release_filters(self) -> dict[str, Any]:
        """The cleaned input as `release_create`'s filters (empty ones are dropped there)."""
        data = self.cleaned_data
        return {
            "dataset": [dataset.name for dataset in data["dataset"]],
            "subset": data["subset"],
            "run": [run.pk for run in data["run"]],
            "round": data["round"].number if data["round"] else None,
            "reviewer_accepted": data["reviewer_accepted"],
            "failure_mode": data["failure_mode"].code if data["failure_mode"] else "",
            "since": data["since"],
            "until": data["until"],
        }


FORMAT_CHOICES = [
    ("native", "native: context or prompt, responses, best or rating"),
    ("preference", "preference: prompt or messages, chosen, rejected"),
    ("llmbar", "llmbar: input, output_1, output_2, label (1 or 2)"),
    ("single", "single: context or prompt, response, rating or correct"),
]
RENAME_PREFIX = "rename:"
MAX_RENAMES = 200


class _ReadingForm(forms.Form):
    """How a file is read: its format, its field names renamed to the format's, the default subset.
    Renames come from the `map` text (the API's syntax) and from the preview's `rename:FIELD` choices."""

    format = forms.ChoiceField(
        choices=FORMAT_CHOICES,
        initial="native",
        help_text="docs/import.md describes each.",
        widget=forms.Select(attrs={"data-preview": ""}),
    )
    map = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"data-preview": ""}),
        label="Rename fields",
        help_text="The file's field names read as the format's, e.g. instruction=input,output_a=output_1 "
        "(or choose them in the preview).",
    )
    subset = forms.CharField(
        required=False,
        max_length=100,
        help_text="For items that name no subset.",
        widget=forms.TextInput(attrs={"data-preview": ""}),
    )

    def clean_map(self) -> dict[str, str]:
        try:
            mapping = parse_field_map(self.cleaned_data["map"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        renames = [(key, value) for key, value in self.data.items() if key.startswith(RENAME_PREFIX)]
        if len(renames) > MAX_RENAMES:
            raise forms.ValidationError(f"{len(renames)} renamed fields; at most {MAX_RENAMES}")
        for key, value in renames:
            source = key[len(RENAME_PREFIX) :]
            if value and value != source:
                mapping[source] = str(value)  # a choice in the preview wins over the text
        return mapping


class UploadPreviewForm(_ReadingForm):
    """The first bytes of the chosen file, read in the browser, to show how they will be imported."""

    head = forms.CharField(max_length=PREVIEW_HEAD_CHARS, strip=False, required=False)
    head_complete = forms.BooleanField(required=False)


class UploadForm(_ReadingForm):
    """A file to upload into a new dataset or one that exists (the API's upload service)."""

    file = forms.FileField(allow_empty_file=False, help_text="JSON Lines or a JSON array of items.")
    target = forms.ChoiceField(
        choices=[("new", "a new dataset"), ("existing", "an existing dataset")],
        initial="new",
        widget=forms.RadioSelect,
        label="Into",
    )
    name = forms.CharField(
        required=False, max_length=100, label="New dataset's name", help_text="Letters, digits, - and _."
    )
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", required=False, label="Existing dataset"
    )
    partial = forms.BooleanField(
        required=False,
        initial=True,
        label="Store the good lines",
        help_text="Store every good line and list the bad ones; unticked, one bad line stores nothing.",
    )
    field_order = ["file", "target", "name", "dataset", "format", "map", "subset", "partial"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("target") == "new":
            name = data.get("name", "")
            errors = dataset_name_errors(name)
            if errors:
                self.add_error("name", errors[0])
            elif Dataset.objects.filter(name=name).exists():
                self.add_error("name", f"a dataset named {name!r} exists: choose “an existing dataset” to add to it")
            else:
                data["dataset_name"] = name
        elif data.get("target") == "existing":
            if data.get("dataset") is None:
                if "dataset" not in self.errors:
                    self.add_error("dataset", "choose the dataset to add to")
            else:
                data["dataset_name"] = data["dataset"].name
        return data
