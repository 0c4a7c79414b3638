"""Release endpoints: list with filters, detail, download with checksum headers, query counts."""

import hashlib

import pytest
from django.test import Client
from django.urls import reverse

from reviews.models import Release, Round
from reviews.services.accounts import api_token_create
from tests.factories import ReleaseFactory
from tests.queries import assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def bearer(user):
    _, raw = api_token_create(user=user, name="test")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def read_body(response):
    # Reading a streamed body to its end closes the file (the test client closes it then).
    return b"".join(response.streaming_content) if response.streaming else response.content


def download(client, release, **headers):
    response = client.get(reverse("api-release-download", args=[release.id]), **headers)
    return response, read_body(response)


def test_list_shows_releases_with_a_download_url_and_filters(reviewer_user, admin_user):
    rft = ReleaseFactory.create(name="round-1", created_by=admin_user, rft_round=Round.objects.create(number=1))
    ReleaseFactory.create(name="round-1", version=2, kind=Release.Kind.REJECTED)
    ReleaseFactory.create(name="pairs", kind=Release.Kind.PREFERENCE_PAIRS, format=Release.Format.TRL)
    client = Client()
    headers = bearer(reviewer_user)

    def names(**params):
        body = client.get(reverse("api-releases"), params, **headers).json()
        return [(row["name"], row["version"]) for row in body["results"]]

    assert names() == [("round-1", 1), ("round-1", 2), ("pairs", 1)]
    assert names(name="round-1") == [("round-1", 1), ("round-1", 2)]
    assert names(kind="rejected") == [("round-1", 2)]
    assert names(format="trl") == [("pairs", 1)]
    assert names(name="round-1", kind="preference_pairs") == []
    first = client.get(reverse("api-releases"), {"name": "round-1"}, **headers).json()["results"][0]
    assert first["download_url"] == f"http://testserver/api/v1/releases/{rft.id}/download/"
    assert (first["created_by"], first["rft_round"], first["sha256"]) == ("alice-admin", 1, rft.sha256)
    assert first["counts"] == {"records": 1}


@pytest.mark.parametrize("param", [{"kind": "everything"}, {"format": "csv"}, {"name": "x" * 101}])
def test_bad_filters_are_a_400_naming_the_parameter(reviewer_user, param):
    response = Client().get(reverse("api-releases"), param, **bearer(reviewer_user))
    assert response.status_code == 400
    assert set(response.json()) == set(param)


def test_detail(reviewer_user):
    release = ReleaseFactory.create(name="metarm", kind=Release.Kind.METARM_LABELS, filters={"run": 3})
    body = Client().get(reverse("api-release", args=[release.id]), **bearer(reviewer_user)).json()
    assert (body["id"], body["name"], body["kind"], body["format"]) == (release.id, "metarm", "metarm_labels", "jsonl")
    assert body["filters"] == {"run": 3}
    assert body["download_url"].endswith(f"/api/v1/releases/{release.id}/download/")
    assert body["created_by"] is None
    assert Client().get(reverse("api-release", args=[10**9]), **bearer(reviewer_user)).status_code == 404


def test_download_streams_the_file_with_its_checksum(reviewer_user, media_root):
    content = b'{"prompt": "a"}\n{"prompt": "b"}\n'
    release = ReleaseFactory.create(name="rl", version=3, kind=Release.Kind.RL_PROMPTS, content=content)
    assert (media_root / release.file.name).read_bytes() == content
    response, body = download(Client(), release, **bearer(reviewer_user))
    assert response.status_code == 200
    assert body == content
    assert hashlib.sha256(body).hexdigest() == response["X-Checksum-SHA256"] == release.sha256
    assert response["ETag"] == f'"{release.sha256}"'
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == 'attachment; filename="rl-v3.jsonl"'
    assert response["Content-Length"] == str(len(content))


def test_download_answers_a_client_that_accepts_only_binary(reviewer_user):
    release = ReleaseFactory.create()
    response, body = download(Client(), release, HTTP_ACCEPT="application/octet-stream", **bearer(reviewer_user))
    assert response.status_code == 200
    assert body == b'{"prompt": "Question?", "completion": "Answer."}\n'


def test_download_with_the_current_etag_is_not_modified(reviewer_user):
    release = ReleaseFactory.create()
    response, body = download(Client(), release, HTTP_IF_NONE_MATCH=f'"{release.sha256}"', **bearer(reviewer_user))
    assert (response.status_code, body) == (304, b"")
    assert response["ETag"] == f'"{release.sha256}"'
    response, _ = download(Client(), release, HTTP_IF_NONE_MATCH='"something-else"', **bearer(reviewer_user))
    assert response.status_code == 200
    response, _ = download(Client(), release, HTTP_IF_MATCH='"something-else"', **bearer(reviewer_user))
    assert response.status_code == 412


def test_a_file_missing_on_disk_is_a_404_with_a_clear_detail(reviewer_user, media_root):
    release = ReleaseFactory.create(name="gone", version=2)
    (media_root / release.file.name).unlink()
    response, _ = download(Client(), release, HTTP_ACCEPT="application/octet-stream", **bearer(reviewer_user))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The file of release gone v2 is missing on the server."}
    Release.objects.filter(id=release.id).update(file="")
    response, _ = download(Client(), release, **bearer(reviewer_user))
    assert response.status_code == 404
    assert "missing" in response.json()["detail"]
    response = Client().get(reverse("api-release-download", args=[10**9]), **bearer(reviewer_user))
    assert response.status_code == 404


def test_list_query_count_does_not_grow_with_rows(reviewer_user, admin_user):
    headers = bearer(reviewer_user)
    client = Client()

    def grow(count):
        for _ in range(count):
            number = Round.objects.count() + 1
            ReleaseFactory.create(created_by=admin_user, rft_round=Round.objects.create(number=number))

    grow(1)
    client.get(reverse("api-releases"), **headers)  # the token's first use records last_used_at
    with count_queries() as few:
        assert client.get(reverse("api-releases"), **headers).status_code == 200
    grow(12)
    with count_queries() as many:
        body = client.get(reverse("api-releases"), {"page_size": 50}, **headers).json()
    assert len(body["results"]) == 13
    assert_count_does_not_grow({"1 release": few, "13 releases": many})
