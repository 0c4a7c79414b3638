"""Forms: input validation for pages; the writes themselves happen in services."""

from __future__ import annotations

from typing import Any

from django import forms

from reviews.models import Annotation, Dataset, FailureMode, ModelConfig, PromptTemplate, ReviewQueue, Run, Sample
from reviews.selectors.datasets import dataset_subsets
from reviews.services.runs import RUN_PARAMETERS


def _number_field(name: str) -> forms.Field:
    """A run parameter's form field, with the range, default and help that `run_create` enforces."""
    limit = RUN_PARAMETERS[name]
    if isinstance(limit.default, float):
        return forms.FloatField(min_value=limit.low, max_value=limit.high, initial=limit.default, help_text=limit.help)
    return forms.IntegerField(
        min_value=int(limit.low), max_value=int(limit.high), initial=limit.default, help_text=limit.help
    )


class RunForm(forms.Form):
    model_config = forms.ModelChoiceField(queryset=ModelConfig.objects.all(), empty_label=None)
    template = forms.ModelChoiceField(queryset=PromptTemplate.objects.all(), empty_label=None)
    subset = forms.ChoiceField(required=False, help_text="Leave empty for the whole dataset.")
    k = _number_field("k")
    temperature = _number_field("temperature")
    max_tokens = _number_field("max_tokens")
    seed = _number_field("seed")
    batch_size = _number_field("batch_size")
    hinted = forms.BooleanField(required=False, help_text="Name the labelled best in the prompt (RFT data).")
    force_scores = forms.BooleanField(required=False, help_text="Constrain a sample without scores to give them.")

    def __init__(self, *args: Any, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        subset_field = self.fields["subset"]
        assert isinstance(subset_field, forms.ChoiceField)
        subset_field.choices = [("", "All subsets"), *dataset_subsets(dataset=dataset)]
        default_model = ModelConfig.objects.filter(is_default=True).first()
        default_template = PromptTemplate.objects.filter(is_default=True).first()
        self.fields["model_config"].initial = default_model
        self.fields["template"].initial = default_template


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. the script that uses it.")


class QueueForm(forms.Form):
    name = forms.CharField(max_length=200)
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.order_by("name"), to_field_name="name")
    run = forms.ModelChoiceField(
        queryset=Run.objects.select_related("dataset").order_by("-created_at"),
        required=False,
        help_text="Review this run's judgments (one item per sample); empty: review the dataset's queries.",
    )
    subset = forms.CharField(max_length=100, required=False)
    correct = forms.NullBooleanField(
        required=False,
        widget=forms.Select(choices=[("", "any"), ("true", "correct only"), ("false", "wrong only")]),
        help_text="Judgments right or wrong against the label (runs only).",
    )
    parse_status = forms.ChoiceField(choices=[("", "any"), *Sample.ParseStatus.choices], required=False)
    priority = forms.ChoiceField(choices=ReviewQueue.Priority.choices, initial=ReviewQueue.Priority.UNREVIEWED)
    reviewers_per_item = forms.IntegerField(min_value=1, max_value=10, initial=1)
    reservation_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=10)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class AnnotateForm(forms.Form):
    decision = forms.ChoiceField(choices=Annotation.Decision.choices)
    failure_modes = forms.ModelMultipleChoiceField(
        queryset=FailureMode.objects.filter(active=True), to_field_name="code", required=False
    )
    note = forms.CharField(required=False, max_length=10_000)
    time_spent_ms = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)


class SearchForm(forms.Form):
    text = forms.CharField(required=False, max_length=200, label="Text", help_text="In the id or the user's query.")
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", required=False, empty_label="any dataset"
    )
    subset = forms.CharField(required=False, max_length=100)
    run = forms.ModelChoiceField(
        queryset=Run.objects.select_related("dataset").order_by("-created_at"), required=False, empty_label="any run"
    )
    correct = forms.NullBooleanField(
        required=False,
        widget=forms.Select(choices=[("", "right or wrong"), ("true", "voted right"), ("false", "voted wrong")]),
    )
    failure_mode = forms.ModelChoiceField(
        queryset=FailureMode.objects.all(), to_field_name="code", required=False, empty_label="any failure mode"
    )
    reviewer = forms.CharField(required=False, max_length=150, help_text="Username.")
