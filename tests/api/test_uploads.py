"""The upload API: formats, bodies, idempotency, limits, the partial policy and bad input.

The cpu task is run inline when the upload's transaction commits (tests/integration has it in a
real worker)."""

from __future__ import annotations

import io
import json
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from reviews.enqueue import INGEST_UPLOAD
from reviews.models import Dataset, Query, Response, Upload, UploadError
from reviews.services.accounts import api_token_create
from reviews.services.uploads import body_path, upload_ingest, uploads_resume_stalled
from tests.conftest import shared_data
from tests.queries import CountedQueries, assert_count_does_not_grow, count_queries

pytestmark = pytest.mark.django_db

LLMBAR_FILES = ["Natural", "Adversarial-GPTInst", "Adversarial-GPTOut", "Adversarial-Manual", "Adversarial-Neighbor"]
FORMATS = ["native", "preference", "llmbar", "single"]


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path) -> Path:
    settings.GRM_UPLOAD_DIR = tmp_path / "uploads"
    settings.GRM_UPLOAD_DIR.mkdir()
    return settings.GRM_UPLOAD_DIR


class Api:
    def __init__(self, client: Client, headers: dict[str, Any], capture) -> None:
        self.client = client
        self.headers = headers
        self.capture = capture

    def upload(self, body: bytes, *, content_type: str = "application/x-ndjson", **params: str):
        query = "&".join(f"{key}={value}" for key, value in params.items())
        with self.capture(execute=True):
            return self.client.generic(
                "POST", f"{reverse('api-uploads')}?{query}", body, content_type=content_type, **self.headers
            )

    def upload_file(self, body: bytes, name: str = "items.jsonl", **params: str):
        query = "&".join(f"{key}={value}" for key, value in params.items())
        file = io.BytesIO(body)
        file.name = name
        with self.capture(execute=True):
            return self.client.post(f"{reverse('api-uploads')}?{query}", {"file": file}, **self.headers)

    def status(self, response) -> dict:
        assert response.status_code == 202, response.content
        detail = self.client.get(response["Location"], **self.headers)
        assert detail.status_code == 200
        return detail.json()


@pytest.fixture
def api(admin_user, sent_tasks, django_capture_on_commit_callbacks) -> Api:
    sent_tasks.run[INGEST_UPLOAD] = upload_ingest
    _, raw = api_token_create(user=admin_user, name="uploads")
    return Api(Client(), {"HTTP_AUTHORIZATION": f"Bearer {raw}"}, django_capture_on_commit_callbacks)


def jsonl(records) -> bytes:
    return "\n".join(json.dumps(record) for record in records).encode()


def pairs_from_shared_data() -> dict[str, list[dict]]:
    """Each source file as (prompt, first, second, label 1/2, subset) pairs."""
    sources: dict[str, list[dict]] = {}
    for name in LLMBAR_FILES:
        items = json.loads(shared_data(f"llmbar/{name}.json").read_text())
        sources[name] = [
            {"prompt": i["input"], "first": i["output_1"], "second": i["output_2"], "label": i["label"], "subset": name}
            for i in items
        ]
    groups = json.loads(shared_data("evalbiasbench/biasbench.json").read_text())
    sources["biasbench"] = [
        {"prompt": i["instruction"], "first": i["response1"], "second": i["response2"], "label": i["label"]}
        | {"subset": i["bias"]}
        for items in groups.values()
        for i in items
    ]
    return sources


def convert(pairs: list[dict], fmt: str, source: str) -> list[dict]:
    """The same pairs in one of the upload formats; `single` gives one item per response."""
    out: list[dict] = []
    for n, p in enumerate(pairs):
        best, other = (p["first"], p["second"]) if p["label"] == 1 else (p["second"], p["first"])
        key = f"{source}-{n}"
        if fmt == "native":
            out.append(
                {"id": key, "prompt": p["prompt"], "responses": [p["first"], p["second"]]}
                | {"best": p["label"] - 1, "subset": p["subset"]}
            )
        elif fmt == "preference":
            out.append({"id": key, "prompt": p["prompt"], "chosen": best, "rejected": other, "subset": p["subset"]})
        elif fmt == "llmbar":
            out.append(
                {"id": key, "input": p["prompt"], "output_1": p["first"], "output_2": p["second"]}
                | {"label": p["label"], "subset": p["subset"]}
            )
        else:
            out.append({"id": f"{key}-best", "prompt": p["prompt"], "response": best, "correct": True})
            out.append({"id": f"{key}-other", "prompt": p["prompt"], "response": other, "correct": False})
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_shared_data_in_every_format_gives_the_right_counts_and_labels(api, fmt):
    sources = pairs_from_shared_data()
    total = 0
    for source, pairs in sources.items():
        records = convert(pairs, fmt, source)
        # Three ways to send a body: JSON Lines, a JSON array, a multipart file.
        if source == "Natural":
            response = api.upload_file(jsonl(records), name=f"{source}.jsonl", dataset="shared", format=fmt)
        elif source.startswith("Adversarial-GPT"):
            body = json.dumps(records).encode()
            response = api.upload(body, content_type="application/json", dataset="shared", format=fmt)
        else:
            response = api.upload(jsonl(records), dataset="shared", format=fmt)
        status = api.status(response)
        assert (status["status"], status["error_count"]) == ("done", 0), status["errors"]
        assert status["items"] == len(records)
        total += len(records)
    assert Query.objects.filter(dataset__name="shared").count() == total
    for source, pairs in sources.items():
        for n, p in enumerate(pairs):
            best_text = p["first"] if p["label"] == 1 else p["second"]
            if fmt == "single":
                best = Query.objects.get(external_id=f"{source}-{n}-best")
                other = Query.objects.get(external_id=f"{source}-{n}-other")
                assert (best.rating, other.rating) == (1, 0)  # the paper's 0/1 label (docs/import.md)
                assert best.responses.get().text == best_text
            else:
                query = Query.objects.get(external_id=f"{source}-{n}")
                assert query.best_index is not None
                assert query.responses.get(position=query.best_index).text == best_text
                assert query.subset == p["subset"]
    # Sending everything again creates nothing.
    records = convert(sources["Natural"], fmt, "Natural")
    again = api.status(api.upload(jsonl(records), dataset="shared", format=fmt))
    assert (again["status"], again["created"], again["unchanged"]) == ("done", 0, len(records))


def test_an_upload_reports_status_counts_and_who_sent_it(api, admin_user):
    response = api.upload(jsonl([{"id": "a", "prompt": "Q", "responses": ["x", "y"], "best": 0}]), dataset="d1")
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["dataset"]) == ("queued", "d1")
    status = api.status(response)
    shown = {key: status[key] for key in ("status", "items", "created", "unchanged", "error_count", "errors")}
    assert shown | {"created_by": status["created_by"], "message": status["message"]} == {
        "status": "done",
        "items": 1,
        "created": 1,
        "unchanged": 0,
        "error_count": 0,
        "errors": [],
        "created_by": admin_user.username,
        "message": "1 new, 0 unchanged",
    }
    assert Dataset.objects.get(name="d1").uploads.get().pk == body["id"]
    assert list(body_path(Upload.objects.get()).parent.iterdir()) == []  # the body is deleted


def test_a_changed_item_under_a_known_id_is_a_conflict_on_its_line(api):
    api.status(api.upload(jsonl([{"id": "a", "prompt": "Q", "responses": ["x", "y"], "best": 0}]), dataset="c"))
    status = api.status(
        api.upload(
            jsonl(
                [
                    {"id": "b", "prompt": "Q2", "responses": ["x", "y"], "best": 0},
                    {"id": "a", "prompt": "Q", "responses": ["x", "y"], "best": 1},
                ]
            ),
            dataset="c",
        )
    )
    assert status["status"] == "rejected"
    assert status["errors"] == [{"line": 2, "field": "id", "message": "id 'a' already exists in c with other content"}]
    assert list(Query.objects.values_list("external_id", "best_index")) == [("a", 0)]


BAD_INPUTS = {
    "truncated line": (b'{"id": "b", "prompt": "Q", "responses": ["x", "y"', 2, "", "truncated JSON"),
    "wrong type": (
        json.dumps({"id": "b", "prompt": "Q", "responses": ["x", 7]}).encode(),
        2,
        "responses[1]",
        "got number",
    ),
    "empty responses": (
        json.dumps({"id": "b", "prompt": "Q", "responses": []}).encode(),
        2,
        "responses",
        "at least one response",
    ),
    "17 responses": (
        json.dumps({"id": "b", "prompt": "Q", "responses": [f"r{i}" for i in range(17)]}).encode(),
        2,
        "responses",
        "holds 17 responses, over the limit of 16",
    ),
    "50 MB response": (
        json.dumps({"id": "b", "prompt": "Q", "responses": ["x" * (50 << 20)], "rating": 3}).encode(),
        2,
        "responses[0]",
        "is 52,428,800 characters, over the limit of 200,000",
    ),
    "invalid UTF-8": (b'{"id": "b", "prompt": "Q\xff\xfe", "responses": ["x"], "rating": 3}', 2, "", "not valid UTF-8"),
    "duplicate id": (
        json.dumps({"id": "a", "prompt": "Q2", "responses": ["z"], "rating": 3}).encode(),
        2,
        "id",
        "duplicate id 'a', first on line 1",
    ),
}
GOOD_LINES = [
    json.dumps({"id": "a", "prompt": "Q", "responses": ["x", "y"], "best": 0}).encode(),
    json.dumps({"id": "c", "prompt": "Q3", "responses": ["u", "v"], "best": 1}).encode(),
]


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_line_gets_its_own_error_and_nothing_is_stored(api, case):
    bad, line, field, fragment = BAD_INPUTS[case]
    body = b"\n".join([GOOD_LINES[0], bad, GOOD_LINES[1]])
    status = api.status(api.upload(body, dataset="bad"))
    assert status["status"] == "rejected"
    assert "nothing was stored" in status["message"]
    assert "partial=true" in status["message"]
    assert status["error_count"] == 1
    [error] = status["errors"]
    assert (error["line"], error["field"]) == (line, field)
    assert fragment in error["message"]
    assert not Dataset.objects.filter(name="bad").exists()
    assert Query.objects.count() == 0


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_partial_stores_the_good_lines_and_reports_the_bad_one(api, case):
    bad, line, _, fragment = BAD_INPUTS[case]
    body = b"\n".join([GOOD_LINES[0], bad, GOOD_LINES[1]])
    status = api.status(api.upload(body, dataset="part", partial="true"))
    assert status["status"] == "partial"
    assert (status["created"], status["error_count"]) == (2, 1)
    assert status["errors"][0]["line"] == line
    assert fragment in status["errors"][0]["message"]
    assert sorted(Query.objects.values_list("external_id", flat=True)) == ["a", "c"]
    assert Response.objects.count() == 4


def test_every_bad_line_is_listed_with_its_line_and_the_errors_list_pages(api):
    records = [{"id": f"i{n}", "prompt": "Q", "responses": ["x"], "rating": 11 if n % 2 else 5} for n in range(250)]
    status = api.status(api.upload(jsonl(records), dataset="many"))
    assert (status["status"], status["error_count"]) == ("rejected", 125)
    assert len(status["errors"]) == 100
    lines = []
    url = status["errors_url"]
    while url:
        page = api.client.get(url, **api.headers).json()
        lines += [error["line"] for error in page["results"]]
        url = page["next"]
    assert lines == list(range(2, 251, 2))
    assert UploadError.objects.count() == 125


def test_an_upload_over_the_size_cap_is_413_naming_the_cap(api, settings, upload_dir):
    settings.GRM_UPLOAD_MAX_BYTES = 100
    body = jsonl([{"id": f"i{n}", "prompt": "Q", "responses": ["x"], "rating": 5} for n in range(5)])
    for response in (api.upload(body, dataset="big"), api.upload_file(body, dataset="big")):
        assert response.status_code == 413
        assert "over the cap of 100 bytes (GRM_UPLOAD_MAX_BYTES)" in response.json()["detail"]
    assert Upload.objects.count() == 0
    assert not any(upload_dir.iterdir())


def test_more_items_than_the_cap_are_refused_naming_the_cap(api, settings):
    settings.GRM_UPLOAD_MAX_ITEMS = 3
    body = jsonl([{"id": f"i{n}", "prompt": "Q", "responses": ["x"], "rating": 5} for n in range(4)])
    status = api.status(api.upload(body, dataset="capped", partial="true"))
    assert status["status"] == "rejected"
    assert status["errors"] == [
        {"line": 4, "field": "", "message": "the upload holds more than 3 items, the cap (GRM_UPLOAD_MAX_ITEMS)"}
    ]
    assert Query.objects.count() == 0


def test_a_body_cut_short_is_refused_and_nothing_is_kept(api, upload_dir):
    body = jsonl([{"id": "a", "prompt": "Q", "responses": ["x"], "rating": 5}])
    with api.capture(execute=True):
        response = api.client.generic(
            "POST",
            f"{reverse('api-uploads')}?dataset=cut",
            body,
            content_type="application/x-ndjson",
            CONTENT_LENGTH=str(len(body) + 5000),
            **api.headers,
        )
    assert response.status_code == 400
    # The test client's body refuses a read past its end, as a broken connection does.
    assert f"connection closed after 0 of {len(body) + 5000:,} bytes" in response.json()["detail"]
    assert Upload.objects.count() == 0
    assert not any(upload_dir.iterdir())


@pytest.mark.parametrize(
    ("query", "field", "fragment"),
    [
        ("format=native", "dataset", "required"),
        ("dataset=a%20b", "dataset", "letters, digits"),
        ("dataset=x&format=csv", "format", "not a valid choice"),
        ("dataset=x&partial=maybe", "partial", "valid boolean"),
        ("dataset=x&map=oops", "map", "source=target"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(api, query, field, fragment):
    response = api.client.post(
        f"{reverse('api-uploads')}?{query}", b"{}", content_type="application/x-ndjson", **api.headers
    )
    assert response.status_code == 400
    assert fragment in str(response.json()[field])
    assert Upload.objects.count() == 0


def test_an_empty_body_or_a_multipart_without_file_is_400(api):
    assert "body is empty" in api.upload(b"", dataset="e").json()["detail"]
    response = api.client.post(f"{reverse('api-uploads')}?dataset=e", {"other": "x"}, **api.headers)
    assert response.status_code == 400
    assert "field `file`" in response.json()["detail"]


def test_the_field_map_and_subset_apply_to_an_upload(api):
    body = jsonl([{"id": "m", "instruction": "Q", "response1": "x", "response2": "y", "label": 2}])
    field_map = "instruction%3Dinput%2Cresponse1%3Doutput_1%2Cresponse2%3Doutput_2"  # URL-encoded
    status = api.status(api.upload(body, dataset="mapped", format="llmbar", map=field_map, subset="hard"))
    assert status["status"] == "done"
    query = Query.objects.get()
    assert (query.best_index, query.subset) == (1, "hard")


def test_reviewers_follow_uploads_but_cannot_send_them(api, reviewer_user):
    api.status(api.upload(jsonl([{"id": "a", "prompt": "Q", "responses": ["x"], "rating": 5}]), dataset="r"))
    _, raw = api_token_create(user=reviewer_user, name="r")
    reviewer: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    client = Client()
    assert client.get(reverse("api-uploads"), **reviewer).json()["results"][0]["dataset"] == "r"
    response = client.post(
        f"{reverse('api-uploads')}?dataset=r", b"{}", content_type="application/x-ndjson", **reviewer
    )
    assert response.status_code == 403
    assert (
        client.post(f"{reverse('api-uploads')}?dataset=r", b"{}", content_type="application/x-ndjson").status_code
        == 401
    )


def test_the_upload_list_filters_and_runs_constant_queries(api):
    def send(n: int) -> None:
        body = jsonl([{"id": f"a{n}", "prompt": "Q", "responses": ["x"], "rating": 5}, {"id": "bad"}])
        api.status(api.upload(body, dataset=f"l{n}", partial="true"))

    def list_uploads() -> CountedQueries:
        with count_queries() as counted:
            assert api.client.get(reverse("api-uploads"), **api.headers).status_code == 200
        return counted

    send(0)
    one = list_uploads()
    for n in range(1, 4):
        send(n)
    assert_count_does_not_grow({"1 upload": one, "4 uploads": list_uploads()})
    listed = api.client.get(reverse("api-uploads") + "?dataset=l1&status=partial", **api.headers).json()
    assert [upload["dataset"] for upload in listed["results"]] == ["l1"]


def test_ingesting_twice_leaves_the_first_outcome(api):
    response = api.upload(jsonl([{"id": "a", "prompt": "Q", "responses": ["x"], "rating": 5}]), dataset="twice")
    first = api.status(response)
    again = upload_ingest(first["id"])
    assert again is not None
    assert (again.status, again.created) == ("done", 1)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_connection_dropped_mid_body_on_a_real_server_stores_nothing(live_server, admin_user, upload_dir):
    _, raw = api_token_create(user=admin_user, name="drop")
    host, port = live_server.thread.host, live_server.thread.port
    body = jsonl([{"id": f"i{n}", "prompt": "Q", "responses": ["x" * 500], "rating": 5} for n in range(200)])
    head = (
        f"POST /api/v1/uploads/?dataset=dropped HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {raw}\r\n"
        f"Content-Type: application/x-ndjson\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)  # the client goes away half way through the body
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    answer = received.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 400")
    assert f"connection closed after {len(body) // 2:,} of {len(body):,} bytes" in answer
    assert Upload.objects.count() == 0
    assert not Dataset.objects.filter(name="dropped").exists()
    assert not any(upload_dir.iterdir())


def test_the_watchdog_queues_again_uploads_whose_task_never_came_or_died(api, sent_tasks, settings):
    del sent_tasks.run[INGEST_UPLOAD]
    body = jsonl([{"id": "a", "prompt": "Q", "responses": ["x"], "rating": 5}])
    response = api.upload(body, dataset="late")  # the task is captured, not run
    assert response.status_code == 202
    upload_id = response.json()["id"]
    assert uploads_resume_stalled() == []  # too recent to call stalled
    old = timezone.now() - timedelta(seconds=settings.GRM_RUN_STALL_SECONDS + 1)
    Upload.objects.filter(pk=upload_id).update(created_at=old)
    sent_tasks.clear()
    assert uploads_resume_stalled() == [upload_id]
    assert sent_tasks.ids(INGEST_UPLOAD) == [upload_id]
    upload = upload_ingest(upload_id)
    assert upload is not None
    assert (upload.status, upload.created) == ("done", 1)
    assert uploads_resume_stalled() == []
