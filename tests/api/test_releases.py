"""Release endpoints: POST answers 202 and queues the build (built here in-process, as a worker would),
list and detail with progress and manifest, file downloads with checksum and conditional GET, names
outside the manifest refused, errors naming the field, admins only, query counts."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.test import Client
from django.urls import reverse

from reviews import enqueue
from reviews.models import Release, Round
from reviews.services.accounts import api_token_create
from reviews.services.releases import MANIFEST, release_build, release_create, release_folder
from tests.factories import ReleaseFactory
from tests.queries import assert_count_does_not_grow, count_queries
from tests.release_data import OLD_CONTENT, converted_release, judged_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def release_dir(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"
    return settings.GRM_RELEASE_DIR


@pytest.fixture
def admin_api(admin_user) -> Client:
    _, raw = api_token_create(user=admin_user, name="test")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def read_body(response):
    # Reading a streamed body to its end closes the file (the test client closes it then).
    return b"".join(response.streaming_content) if response.streaming else response.content


def post(client, body):
    return client.post(reverse("api-releases"), json.dumps(body), content_type="application/json")


def file_url(release, name):
    return reverse("api-release-file", args=[release.id, name])


def test_post_answers_202_and_queues_the_build_that_makes_it_ready(
    admin_api, sent_tasks, django_capture_on_commit_callbacks
):
    _, run = judged_dataset("main")
    body = {"kind": "rft_sft", "name": "sft", "filters": {"dataset": ["main"]}, "seed": 3, "validation_fraction": 0}
    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_api, body)
    assert response.status_code == 202, response.content
    queued = response.json()
    assert (queued["name"], queued["version"], queued["kind"], queued["status"]) == ("sft", 1, "rft_sft", "queued")
    assert response["Location"] == queued["url"] == f"http://testserver/api/v1/releases/{queued['id']}/"
    assert (queued["filters"], queued["seed"], queued["validation_fraction"]) == ({"dataset": ["main"]}, 3, 0.0)
    assert (queued["files"], queued["manifest_url"], queued["manifest"], queued["progress_percent"]) == (
        [],
        None,
        {},
        0,
    )
    assert queued["created_by"] == "alice-admin"
    assert sent_tasks.ids(enqueue.RELEASE_BUILD) == [queued["id"]]

    release_build(release_id=queued["id"])  # what the cpu worker's task does
    ready = admin_api.get(queued["url"]).json()
    assert (ready["status"], ready["progress_percent"], ready["error_message"]) == ("ready", 100, "")
    manifest = ready["manifest"]
    assert manifest["source_runs"] == [run.id]
    assert manifest["seed"] == 3
    assert manifest["kind"] == "rft_sft"
    assert ready["counts"] == manifest["counts"]
    assert ready["counts"]["rows"] == ready["counts"]["train"] > 0
    assert ready["sha256"] == manifest["sha256"]
    assert [file["name"] for file in ready["files"]] == ["train.jsonl", "train.parquet"]
    for file in ready["files"]:
        assert file["url"] == f"http://testserver/api/v1/releases/{queued['id']}/files/{file['name']}"
        download = admin_api.get(file["url"])
        data = read_body(download)
        assert download.status_code == 200
        assert hashlib.sha256(data).hexdigest() == file["sha256"] == download["X-Checksum-SHA256"]
        assert download["ETag"] == f'"{file["sha256"]}"'
        assert len(data) == file["bytes"]
    assert ready["manifest_url"].endswith(f"/files/{MANIFEST}")
    manifest_download = admin_api.get(ready["manifest_url"])
    assert json.loads(read_body(manifest_download)) == manifest
    assert manifest_download["Content-Type"] == "application/json"


def test_building_the_same_definition_again_makes_the_next_version_with_the_same_files(admin_api):
    judged_dataset("main")
    body = {"kind": "pairs", "name": "same", "filters": {"dataset": ["main"]}, "validation_fraction": 0}
    first, second = (post(admin_api, body).json() for _ in range(2))
    assert (first["version"], second["version"]) == (1, 2)
    for queued in (first, second):
        release_build(release_id=queued["id"])
    files = [admin_api.get(queued["url"]).json()["files"] for queued in (first, second)]
    assert [file["sha256"] for file in files[0]] == [file["sha256"] for file in files[1]]


def test_a_build_with_nothing_to_export_fails_with_its_message(admin_api):
    judged_dataset("main")
    queued = post(admin_api, {"kind": "rft_sft", "filters": {"subset": ["nowhere"]}}).json()
    release_build(release_id=queued["id"])
    failed = admin_api.get(queued["url"]).json()
    assert failed["status"] == "failed"
    assert "nothing to export" in failed["error_message"]
    assert failed["files"] == []
    assert failed["manifest_url"] is None
    response = admin_api.get(file_url(Release.objects.get(id=queued["id"]), "train.jsonl"))
    assert response.status_code == 409
    assert "failed, not ready" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "everything"}, "kind"),
        ({"name": "no kind"}, "kind"),
        ({"kind": "rft_sft", "name": "not a slug!"}, "name"),
        ({"kind": "rft_sft", "validation_fraction": 1}, "validation_fraction"),
        ({"kind": "rft_sft", "validation_fraction": 2}, "validation_fraction"),
        ({"kind": "rft_sft", "seed": -1}, "seed"),
        ({"kind": "rft_sft", "filters": {"run": [999999]}}, "run"),
        ({"kind": "rft_sft", "filters": {"dataset": ["nope"]}}, "dataset"),
        ({"kind": "rft_sft", "filters": {"round": 7}}, "round"),
        ({"kind": "rft_sft", "filters": {"failure_mode": "nope"}}, "failure_mode"),
        ({"kind": "rft_sft", "filters": {"since": "2025-02-01", "until": "2025-01-01"}}, "since"),
        ({"kind": "rl_prompts", "filters": {"reviewer_accepted": True}}, "reviewer_accepted"),
    ],
)
def test_a_bad_definition_is_a_400_naming_the_field(admin_api, body, field):
    judged_dataset("main")
    response = post(admin_api, body)
    assert response.status_code == 400
    assert list(response.json()) == [field], response.json()
    assert not Release.objects.exists()


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"run": ["x"]}, "run"),
        ({"since": "yesterday"}, "since"),
        ([1], "non_field_errors"),
    ],
)
def test_a_malformed_filter_is_a_400_naming_it_under_filters(admin_api, filters, field):
    response = post(admin_api, {"kind": "rft_sft", "filters": filters})
    assert response.status_code == 400
    assert list(response.json()) == ["filters"], response.json()
    assert field in response.json()["filters"], response.json()


def test_list_filters_by_name_kind_and_status(admin_api, admin_user):
    rft = ReleaseFactory.create(name="round-1", created_by=admin_user, rft_round=Round.objects.create(number=1))
    ReleaseFactory.create(name="round-1", version=2, kind=Release.Kind.REJECTED)
    ReleaseFactory.create(name="pairs", kind=Release.Kind.PAIRS, status=Release.Status.BUILDING)

    def names(**params):
        response = admin_api.get(reverse("api-releases"), params)
        assert response.status_code == 200, response.content
        return [(row["name"], row["version"]) for row in response.json()["results"]]

    assert names() == [("round-1", 1), ("round-1", 2), ("pairs", 1)]
    assert names(name="round-1") == [("round-1", 1), ("round-1", 2)]
    assert names(kind="rejected") == [("round-1", 2)]
    assert names(status="building") == [("pairs", 1)]
    assert names(name="round-1", kind="pairs") == []
    first = admin_api.get(reverse("api-releases"), {"name": "round-1"}).json()["results"][0]
    assert (first["created_by"], first["rft_round"], first["sha256"]) == ("alice-admin", 1, rft.sha256)
    assert first["files"][0]["url"] == f"http://testserver/api/v1/releases/{rft.id}/files/train.jsonl"
    assert "manifest" not in first  # the list stays light; the detail has it


@pytest.mark.parametrize("param", [{"kind": "everything"}, {"status": "done"}, {"name": "x" * 101}])
def test_bad_list_filters_are_a_400_naming_the_parameter(admin_api, param):
    response = admin_api.get(reverse("api-releases"), param)
    assert response.status_code == 400
    assert set(response.json()) == set(param)


def test_detail_shows_progress_while_building(admin_api):
    release = ReleaseFactory.create(status=Release.Status.BUILDING, rows_done=250, rows_total=1000, sha256="")
    body = admin_api.get(reverse("api-release", args=[release.id])).json()
    assert (body["status"], body["progress_percent"], body["rows_done"], body["rows_total"]) == (
        "building",
        25,
        250,
        1000,
    )
    assert body["files"] == []
    assert body["manifest_url"] is None
    response = admin_api.get(file_url(release, "train.jsonl"))
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"release {release} is building, not ready: its files can be downloaded once it is"
    }
    assert admin_api.get(reverse("api-release", args=[10**9])).status_code == 404


def test_download_with_the_current_etag_is_not_modified(admin_api):
    release = ReleaseFactory.create()
    digest = release.files[0]["sha256"]
    response = admin_api.get(file_url(release, "train.jsonl"), headers={"If-None-Match": f'"{digest}"'})
    assert (response.status_code, read_body(response)) == (304, b"")
    assert response["ETag"] == f'"{digest}"'
    response = admin_api.get(file_url(release, "train.jsonl"), headers={"If-None-Match": '"something-else"'})
    assert response.status_code == 200
    assert read_body(response)
    response = admin_api.get(file_url(release, "train.jsonl"), headers={"If-Match": '"something-else"'})
    assert response.status_code == 412
    response = admin_api.get(file_url(release, "train.jsonl"), headers={"If-Match": f'"{digest}"'})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == f'attachment; filename="{release.name}-v1-train.jsonl"'
    assert read_body(response) == b'{"prompt": "Question?", "completion": "Answer."}\n'


def test_only_the_manifests_files_are_served(admin_api, release_dir):
    release = ReleaseFactory.create()
    (release_folder(release) / "secret.txt").write_text("not listed")
    (release_dir / "other.txt").write_text("outside the release")
    base = f"/api/v1/releases/{release.id}/files/"
    for name in ["secret.txt", "..", ".", "train.jsonl%00", "TRAIN.JSONL", "train.jsonl%20", "%2e%2e"]:
        response = admin_api.get(base + name)
        assert response.status_code == 404, name
        assert "has no file named" in response.json()["detail"], name
    # A name never holds a slash (encoded or not): no route answers, nothing is read.
    for path in ["../other.txt", "%2e%2e%2fother.txt", "..%2Fother.txt", "sub/train.jsonl", "/etc/passwd"]:
        response = admin_api.get(base + path)
        assert response.status_code == 404, path
        assert b"outside the release" not in read_body(response)


def test_a_file_missing_on_disk_is_a_404_with_a_clear_detail(admin_api):
    release = ReleaseFactory.create(name="gone", version=2)
    (release_folder(release) / "train.jsonl").unlink()
    response = admin_api.get(file_url(release, "train.jsonl"), headers={"Accept": "application/octet-stream"})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The file train.jsonl of release gone v2 is missing on the server."}
    assert admin_api.get(file_url(release, MANIFEST)).status_code == 404  # the factory writes no manifest


def test_releases_are_for_admins_only(reviewer_user, admin_api):
    release = ReleaseFactory.create()
    _, raw = api_token_create(user=reviewer_user, name="test")
    reviewer = Client(headers={"Authorization": f"Bearer {raw}"})
    urls = [reverse("api-releases"), reverse("api-release", args=[release.id]), file_url(release, "train.jsonl")]
    for url in urls:
        assert reviewer.get(url).status_code == 403, url
        assert reviewer.get(url).json() == {"detail": "Releases need the admin role."}
        anonymous = Client().get(url)
        assert anonymous.status_code == 401, url
        assert anonymous["WWW-Authenticate"] == 'Bearer realm="api"', url
        assert admin_api.get(url).status_code == 200, url
    assert post(reviewer, {"kind": "rft_sft"}).status_code == 403
    assert post(Client(), {"kind": "rft_sft"}).status_code == 401
    assert Release.objects.count() == 1


def test_list_query_count_does_not_grow_with_rows(admin_api, admin_user):
    def grow(count):
        for _ in range(count):
            number = Round.objects.count() + 1
            ReleaseFactory.create(created_by=admin_user, rft_round=Round.objects.create(number=number))

    grow(1)
    admin_api.get(reverse("api-releases"))  # the token's first use records last_used_at
    with count_queries() as few:
        assert admin_api.get(reverse("api-releases")).status_code == 200
    grow(12)
    with count_queries() as many:
        body = admin_api.get(reverse("api-releases"), {"page_size": 50}).json()
    assert len(body["results"]) == 13
    assert_count_does_not_grow({"1 release": few, "13 releases": many})


def test_release_create_through_the_service_is_what_the_api_shows(admin_api):
    judged_dataset("main")
    release = release_create(kind="metarm", filters={"dataset": "main"}, build=False)
    body = admin_api.get(reverse("api-release", args=[release.id])).json()
    assert (body["name"], body["filters"], body["status"]) == ("metarm-main", {"dataset": ["main"]}, "queued")


def test_a_definition_is_json_only(admin_api):
    response = admin_api.post(reverse("api-releases"), "kind=rft_sft", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert not Release.objects.exists()


def test_a_release_converted_from_a_single_file_lists_and_serves_its_file(admin_api):
    release = converted_release()
    response = admin_api.get(reverse("api-release", args=[release.id]))
    assert response.status_code == 200
    digest = hashlib.sha256(OLD_CONTENT).hexdigest()
    url = f"http://testserver{file_url(release, 'old.jsonl')}"
    expected = {"name": "old.jsonl", "split": "train", "format": "jsonl", "rows": None, "bytes": len(OLD_CONTENT)}
    assert response.json()["files"] == [{**expected, "sha256": digest, "url": url}]
    assert admin_api.get(reverse("api-releases")).json()["results"][0]["files"] == response.json()["files"]
    download = admin_api.get(file_url(release, "old.jsonl"))
    assert (download.status_code, read_body(download)) == (200, OLD_CONTENT)
    assert download["X-Checksum-SHA256"] == digest
