from django.urls import path

from reviews import views

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/<slug:name>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<slug:name>/queries/<int:query_id>/", views.query_detail, name="query-detail"),
]
