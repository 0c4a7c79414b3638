from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from reviews.api import views

urlpatterns = [
    path("v1/datasets/", views.DatasetList.as_view(), name="api-datasets"),
    path("v1/datasets/<slug:name>/", views.DatasetDetail.as_view(), name="api-dataset"),
    path("v1/queries/", views.QueryList.as_view(), name="api-queries"),
    path("v1/runs/", views.RunList.as_view(), name="api-runs"),
    path("v1/runs/<int:pk>/", views.RunDetail.as_view(), name="api-run"),
    path("v1/runs/<int:pk>/cancel/", views.RunCancel.as_view(), name="api-run-cancel"),
    path("v1/samples/", views.SampleList.as_view(), name="api-samples"),
    path("v1/verdicts/", views.VerdictList.as_view(), name="api-verdicts"),
    path("v1/annotations/", views.AnnotationList.as_view(), name="api-annotations"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
