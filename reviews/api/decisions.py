"""Rejective fine-tuning endpoints (GRM_SPEC 6, issue 11): an admin adjudicates a sample its reviewers
disagree on, and resamples with the hint the queries of a finished run that every sample got wrong.

Both are writes, for admins only (the default permission); reviewers get 403."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from reviews.api.serializers import AdjudicationOut, RunOut
from reviews.models import Adjudication, Run, Sample
from reviews.selectors import runs as run_selectors
from reviews.services import decisions as decision_services
from reviews.services import runs as run_services

Refused = OpenApiResponse(
    OpenApiTypes.OBJECT, description='Refused: `{"<field>": ["<why>"]}` names the input, or `detail` says why.'
)


class AdjudicationIn(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(choices=Adjudication.Decision.choices)
    note = serializers.CharField(
        max_length=10_000, help_text="Why: required, kept with the decision and shown on the query page."
    )


class SampleAdjudication(generics.GenericAPIView[Any]):  # its queryset: samples; its answer: an adjudication
    serializer_class = AdjudicationOut
    queryset = Sample.objects.all()

    @extend_schema(request=AdjudicationIn, responses={201: AdjudicationOut, 400: Refused})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Decide a sample one reviewer accepted and another rejected (held until now): accept or reject,
        with a note. Deciding again replaces the adjudication. 400 (naming `sample`) when its reviewers do
        not disagree."""
        sample = self.get_object()
        data = AdjudicationIn(data=request.data)
        data.is_valid(raise_exception=True)
        adjudication = decision_services.adjudicate(
            sample=sample,
            decision=data.validated_data["decision"],
            note=data.validated_data["note"],
            admin=request.user,  # type: ignore[arg-type]  # an admin: the permission let them through
        )
        adjudication = Adjudication.objects.select_related("sample", "adjudicated_by").get(pk=adjudication.pk)
        return Response(AdjudicationOut(adjudication).data, status=status.HTTP_201_CREATED)


class RunHinted(generics.GenericAPIView[Run]):
    serializer_class = RunOut
    queryset = run_selectors.runs_list()

    @extend_schema(request=None, responses={202: RunOut, 400: Refused})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Resample with the hint (202: the new run, queued): one sample per query, prompted with the labelled
        best response, for each query of this finished run whose every sample was wrong. 400 when the run is
        not done, is itself hinted, or has no such query left."""
        run = self.get_object()
        hinted = run_services.run_create_hinted(run=run, created_by=request.user)  # type: ignore[arg-type]
        hinted = run_selectors.runs_list().select_related("meta_checkpoint").get(pk=hinted.pk)
        return Response(RunOut(hinted).data, status=status.HTTP_202_ACCEPTED)
