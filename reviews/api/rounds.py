"""RFT round endpoints: list rounds and create the next one (admins), and show a round with its runs'
Voting@k and MetaRM@k accuracy and its releases. Reading is for reviewers and admins."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from reviews.api.views import ByIdCursor, RoundLookup, SlugLookup
from reviews.models import ModelConfig, Release, Round
from reviews.selectors import rounds as round_selectors
from reviews.selectors.rounds import RoundPage
from reviews.services import rounds as round_services

ROUND_NUMBER_LIMIT = 2**31  # PostgreSQL's integer column; a larger number in the URL is no round


class RoundIn(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    # A field named like Field.parent: DRF takes declared fields off the class, so only mypy minds.
    parent = RoundLookup(  # type: ignore[assignment]
        required=False, allow_null=True, help_text="An earlier round's number; default: the latest round."
    )
    model_config = SlugLookup(
        slug_field="name",
        queryset=ModelConfig.objects.all(),
        required=False,
        allow_null=True,
        help_text="The model configuration (by name) of the GRM checkpoint this round evaluates.",
    )
    notes = serializers.CharField(max_length=10_000, required=False, default="", allow_blank=True)


class RoundOut(serializers.ModelSerializer[Round]):
    parent: serializers.SlugRelatedField[Round] = serializers.SlugRelatedField(  # type: ignore[assignment]
        slug_field="number", read_only=True, allow_null=True, help_text="The parent round's number."
    )
    model_config: serializers.SlugRelatedField[ModelConfig] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True, help_text="The GRM checkpoint this round evaluates."
    )
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    run_count = serializers.IntegerField(read_only=True)
    release_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Round
        fields = [
            "number",
            "name",
            "parent",
            "model_config",
            "notes",
            "created_by",
            "created_at",
            "run_count",
            "release_count",
        ]


class RoundRunOut(serializers.Serializer[Any]):
    """A run of the round: accuracy over its labelled verdicts and its samples' RFT decisions."""

    id = serializers.IntegerField(source="run.id")
    dataset = serializers.CharField(source="run.dataset.name")
    model_config = serializers.CharField(source="run.model_config.name")
    status = serializers.CharField(source="run.status")
    hinted = serializers.BooleanField(source="run.hinted")
    k = serializers.IntegerField(source="run.k")
    k_meta = serializers.IntegerField(source="run.k_meta", allow_null=True)
    voting_total = serializers.IntegerField(help_text="Labelled queries with a Voting@k verdict.")
    voting_right = serializers.IntegerField()
    voting_accuracy = serializers.FloatField(allow_null=True, help_text="Voting@k accuracy; null before any.")
    meta_total = serializers.IntegerField(help_text="Labelled queries with a MetaRM@k verdict.")
    meta_right = serializers.IntegerField()
    meta_accuracy = serializers.FloatField(allow_null=True, help_text="MetaRM@k accuracy; null before any.")
    accepted = serializers.IntegerField(help_text="Samples accepted for rejective fine-tuning.")
    rejected = serializers.IntegerField()
    held = serializers.IntegerField(help_text="Samples held: reviewers disagree and no admin has adjudicated.")


class RoundReleaseOut(serializers.ModelSerializer[Release]):
    class Meta:
        model = Release
        fields = ["id", "name", "version", "kind", "status", "counts", "sha256", "created_at"]


class RoundDetailOut(RoundOut):
    """A round with its children, its runs and its releases."""

    children = serializers.SerializerMethodField()
    runs = serializers.SerializerMethodField()
    releases = serializers.SerializerMethodField()

    class Meta(RoundOut.Meta):
        fields = [*RoundOut.Meta.fields, "children", "runs", "releases"]

    @property
    def page(self) -> RoundPage:
        page: RoundPage = self.context["page"]
        return page

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField(), help_text="Child rounds' numbers."))
    def get_children(self, round: Round) -> list[int]:
        return [child.number for child in self.page.children]

    @extend_schema_field(RoundRunOut(many=True))
    def get_runs(self, round: Round) -> Any:
        return RoundRunOut(self.page.runs, many=True).data

    @extend_schema_field(RoundReleaseOut(many=True))
    def get_releases(self, round: Round) -> Any:
        return RoundReleaseOut(self.page.releases, many=True).data


class ByNumberCursor(ByIdCursor):
    ordering = "number"


class RoundList(generics.ListAPIView[Round]):
    serializer_class = RoundOut
    pagination_class = ByNumberCursor

    def get_queryset(self) -> QuerySet[Round]:
        return round_selectors.rounds_list()

    @extend_schema(request=RoundIn, responses={201: RoundOut})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create the next round (admins): numbered one past the latest, its parent the latest unless named."""
        data = RoundIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        created = round_services.round_create(
            name=values["name"],
            parent=values.get("parent"),
            model_config=values.get("model_config"),
            notes=values["notes"],
            created_by=cast(User, request.user),  # an admin: the permission let the write through
        )
        return Response(
            RoundOut(round_selectors.round_for_page(number=created.number)).data, status=status.HTTP_201_CREATED
        )


class RoundDetail(generics.RetrieveAPIView[Round]):
    serializer_class = RoundDetailOut
    queryset = round_selectors.rounds_list()
    lookup_field = "number"

    def get_object(self) -> Round:
        if int(self.kwargs["number"]) >= ROUND_NUMBER_LIMIT:
            raise NotFound("No such round.")
        return super().get_object()

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The round, its children, its runs with Voting@k and MetaRM@k accuracy, and its releases."""
        round = self.get_object()
        context = {**self.get_serializer_context(), "page": round_selectors.round_page(round=round)}
        return Response(RoundDetailOut(round, context=context).data)
