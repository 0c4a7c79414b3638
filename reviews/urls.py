from django.urls import path

from reviews import views

urlpatterns = [
    path("", views.home, name="home"),
    path("datasets/<slug:name>/", views.dataset_detail, name="dataset-detail"),
    path("datasets/<slug:name>/queries/<int:query_id>/", views.query_detail, name="query-detail"),
    path("datasets/<slug:name>/runs/new/", views.run_new, name="run-new"),
    path("runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("runs/<int:run_id>/progress/", views.run_progress, name="run-progress"),
    path("runs/<int:run_id>/row/", views.run_row, name="run-row"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path("runs/<int:run_id>/meta/", views.run_meta, name="run-meta"),
    path("runs/<int:run_id>/meta-score/", views.run_meta_score, name="run-meta-score"),
    path("runs/<int:run_id>/report.json", views.run_report_json, name="run-report-json"),
    path("runs/<int:run_id>/report.csv", views.run_report_csv, name="run-report-csv"),
    path("runs/<int:run_id>/report/recompute/", views.run_report_recompute, name="run-report-recompute"),
    path("runs/compare/", views.run_compare, name="run-compare"),
    path("metarm/", views.metarm_checkpoints, name="metarm"),
    path("metarm/train/", views.metarm_train, name="metarm-train"),
    path("metarm/register/", views.metarm_register, name="metarm-register"),
    path("metarm/<slug:name>/row/", views.metarm_checkpoint_row, name="metarm-row"),
    path("metarm/<slug:name>/activate/", views.metarm_activate, name="metarm-activate"),
    path("tokens/", views.api_tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.api_token_revoke, name="token-revoke"),
    path("search/", views.search, name="search"),
    path("queues/", views.queues, name="queues"),
    path("queues/new/", views.queue_new, name="queue-new"),
    path("queues/<int:queue_id>/", views.queue_review, name="queue-review"),
    path("queues/<int:queue_id>/items/<int:item_id>/annotate/", views.queue_annotate, name="queue-annotate"),
    path("queues/<int:queue_id>/items/<int:item_id>/skip/", views.queue_skip, name="queue-skip"),
    path("queues/<int:queue_id>/agreement/", views.queue_agreement, name="queue-agreement"),
]
