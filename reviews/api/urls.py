from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from grmweb.security import allow_inline_styles
from reviews.api import decisions, metarm, releases, rounds, uploads, views

urlpatterns = [
    path("v1/datasets/", views.DatasetList.as_view(), name="api-datasets"),
    path("v1/datasets/<slug:name>/", views.DatasetDetail.as_view(), name="api-dataset"),
    path("v1/queries/", views.QueryList.as_view(), name="api-queries"),
    path("v1/runs/", views.RunList.as_view(), name="api-runs"),
    path("v1/runs/<int:pk>/", views.RunDetail.as_view(), name="api-run"),
    path("v1/runs/<int:pk>/cancel/", views.RunCancel.as_view(), name="api-run-cancel"),
    path("v1/runs/<int:pk>/errors/", views.RunEventList.as_view(), name="api-run-errors"),
    path("v1/runs/<int:pk>/report/", views.RunReport.as_view(), name="api-run-report"),
    path("v1/runs/<int:pk>/report.csv", views.RunReportCsv.as_view(), name="api-run-report-csv"),
    path("v1/runs/<int:pk>/meta-score/", metarm.RunMetaScore.as_view(), name="api-run-meta-score"),
    path("v1/runs/<int:pk>/hinted/", decisions.RunHinted.as_view(), name="api-run-hinted"),
    path("v1/runs/compare/", views.RunCompare.as_view(), name="api-runs-compare"),
    path("v1/metarm/checkpoints/", metarm.CheckpointList.as_view(), name="api-metarm-checkpoints"),
    path(
        "v1/metarm/checkpoints/<slug:name>/activate/",
        metarm.CheckpointActivate.as_view(),
        name="api-metarm-checkpoint-activate",
    ),
    path("v1/rounds/", rounds.RoundList.as_view(), name="api-rounds"),
    path("v1/rounds/<int:number>/", rounds.RoundDetail.as_view(), name="api-round"),
    path("v1/samples/", views.SampleList.as_view(), name="api-samples"),
    path("v1/samples/<int:pk>/adjudication/", decisions.SampleAdjudication.as_view(), name="api-sample-adjudication"),
    path("v1/verdicts/", views.VerdictList.as_view(), name="api-verdicts"),
    path("v1/annotations/", views.AnnotationList.as_view(), name="api-annotations"),
    path("v1/uploads/", uploads.UploadList.as_view(), name="api-uploads"),
    path("v1/uploads/<int:pk>/", uploads.UploadDetail.as_view(), name="api-upload"),
    path("v1/uploads/<int:pk>/errors/", uploads.UploadErrorList.as_view(), name="api-upload-errors"),
    path("v1/releases/", releases.ReleaseList.as_view(), name="api-releases"),
    path("v1/releases/<int:pk>/", releases.ReleaseDetail.as_view(), name="api-release"),
    path("v1/releases/<int:pk>/files/<str:name>", releases.ReleaseFile.as_view(), name="api-release-file"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # GET only: its HTML renderer has no template for OPTIONS' metadata (a 500 otherwise). The split view
    # serves its start-up script as a file (`?script`): the Content-Security-Policy allows no inline script.
    path(
        "docs/",
        allow_inline_styles(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema", http_method_names=["get", "head"])
        ),
        name="api-docs",
    ),
]
