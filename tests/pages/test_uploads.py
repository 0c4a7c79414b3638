"""The upload pages (issue 13): the form (a new dataset or one that exists, the format, renamed fields),
its preview of the first items, each upload's page with its progress and bad lines, and the list.
The form goes through the API's upload service; the ingestion task runs inline when the upload's
transaction commits (tests/browser/test_upload.py has it in a real worker, in Chromium)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from reviews import upload_files
from reviews.enqueue import INGEST_UPLOAD
from reviews.models import Dataset, Query, Upload, UploadError
from reviews.services.datasets import ImportProgress
from reviews.services.uploads import upload_ingest
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path) -> Path:
    settings.GRM_UPLOAD_DIR = tmp_path / "uploads"
    settings.GRM_UPLOAD_DIR.mkdir()
    return settings.GRM_UPLOAD_DIR


@pytest.fixture
def ingest_inline(sent_tasks, django_capture_on_commit_callbacks):
    sent_tasks.run[INGEST_UPLOAD] = upload_ingest
    return django_capture_on_commit_callbacks


def jsonl(*records: object) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


GOOD = {"prompt": "What is 2+2?", "responses": ["4", "5"], "best": 0}
BAD = {"prompt": "Two?", "responses": ["a"], "best": 4}


def form(body: bytes, filename: str = "items.jsonl", **fields: object) -> dict[str, object]:
    data: dict[str, object] = {"file": SimpleUploadedFile(filename, body), "target": "new", "name": "fresh",
                               "format": "native", "partial": "on"}  # fmt: skip
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def test_the_form_is_for_admins(admin_client, reviewer_client):
    page = admin_client.get(reverse("upload-new"))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="dropzone"' in text
    assert 'enctype="multipart/form-data"' in text
    assert "js/upload" in text
    assert reviewer_client.get(reverse("upload-new")).status_code == 403
    assert reviewer_client.post(reverse("upload-preview"), {"format": "native"}).status_code == 403


def test_an_upload_into_a_new_dataset_is_stored_by_the_worker_and_its_page_shows_the_bad_line(
    admin_client, admin_user, ingest_inline
):
    with ingest_inline(execute=True):
        answer = admin_client.post(reverse("upload-new"), form(jsonl(GOOD, BAD, {**GOOD, "prompt": "3+3?"})))
    upload = Upload.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("upload-detail", args=[upload.pk])
    assert (upload.dataset_name, upload.filename, upload.partial, upload.created_by) == (
        "fresh",
        "items.jsonl",
        True,
        admin_user,
    )
    assert (upload.status, upload.items, upload.created, upload.error_count) == ("partial", 3, 2, 1)
    assert Query.objects.filter(dataset__name="fresh").count() == 2
    page = admin_client.get(answer["Location"]).content.decode()
    assert 'id="upload-errors-table"' in page
    assert '<td class="num">2</td><td><code>best</code></td><td>is 4 but there are 1 responses' in page
    assert 'hx-trigger="every 1s"' not in page  # ended: it no longer polls
    assert reverse("dataset-detail", args=["fresh"]) in page
    assert reverse("run-new", args=["fresh"]) in page


def test_all_or_nothing_stores_nothing_and_says_so(admin_client, ingest_inline):
    with ingest_inline(execute=True):
        admin_client.post(reverse("upload-new"), form(jsonl(GOOD, BAD), partial=None))
    upload = Upload.objects.get()
    assert upload.status == "rejected"
    assert not Dataset.objects.filter(name="fresh").exists()
    page = admin_client.get(reverse("upload-detail", args=[upload.pk])).content.decode()
    assert "nothing was stored" in page
    assert "Upload a corrected file" in page


def test_adding_to_an_existing_dataset_with_renamed_fields(admin_client, ingest_inline):
    dataset = DatasetFactory.create(name="bench")
    page = admin_client.get(reverse("upload-new") + "?dataset=bench").content.decode()
    assert '<input type="radio" name="target" value="existing" required id="id_target_1" checked>' in page
    assert '<option value="bench" selected>' in page
    record = {"instruction": "Pick one", "output_1": "x", "output_2": "y", "label": 2, "flavour": "kept aside"}
    data = form(jsonl(record), target="existing", dataset="bench", format="llmbar", name="", subset="pairs")
    data["rename:instruction"] = "input"
    data["rename:flavour"] = ""
    with ingest_inline(execute=True):
        answer = admin_client.post(reverse("upload-new"), data)
    assert answer.status_code == 302
    upload = Upload.objects.get()
    assert (upload.dataset_name, upload.field_map, upload.subset, upload.status) == (
        "bench",
        {"instruction": "input"},
        "pairs",
        "done",
    )
    query = Query.objects.get(dataset=dataset)
    assert (query.best_index, query.subset) == (1, "pairs")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "demo"}, "name", "a dataset named &#x27;demo&#x27; exists"),
        ({"name": "no spaces"}, "name", "may hold only letters, digits, - and _"),
        ({"name": ""}, "name", "a dataset name is required"),
        ({"target": "existing", "name": ""}, "dataset", "choose the dataset to add to"),
        ({"target": "existing", "dataset": "nowhere"}, "dataset", "Select a valid choice"),
        ({"map": "instruction"}, "map", "bad --map entry"),
        ({"format": "csv"}, "format", "Select a valid choice"),
    ],
)
def test_a_refused_form_names_the_field_and_stores_nothing(
    admin_client, ingest_inline, upload_dir, changes, field, message
):
    DatasetFactory.create(name="demo")
    with ingest_inline(execute=True):
        answer = admin_client.post(reverse("upload-new"), form(jsonl(GOOD), **changes))
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert field in answer.context["form"].errors
    assert not Upload.objects.exists()
    assert list(upload_dir.iterdir()) == []  # nothing received is left behind


def test_an_empty_file_is_refused(admin_client):
    answer = admin_client.post(reverse("upload-new"), form(b""))
    assert answer.status_code == 400
    assert "The submitted file is empty" in answer.content.decode()
    assert not Upload.objects.exists()


def test_with_htmx_the_answer_is_a_redirect_or_the_error_box(admin_client, ingest_inline, upload_dir):
    with ingest_inline(execute=True):
        sent = admin_client.post(reverse("upload-new"), form(jsonl(GOOD)), HTTP_HX_REQUEST="true")
    assert sent.status_code == 200
    assert sent["HX-Redirect"] == reverse("upload-detail", args=[Upload.objects.get().pk])
    refused = admin_client.post(reverse("upload-new"), form(jsonl(GOOD), name="fresh"), HTTP_HX_REQUEST="true")
    assert refused.status_code == 400
    assert refused["HX-Retarget"] == "#upload-errors"
    text = refused.content.decode()
    assert "Nothing was uploaded" in text
    assert "New dataset&#x27;s name: a dataset named" in text
    assert "<form" not in text  # only the error box: the chosen file stays chosen
    assert [path.name for path in upload_dir.iterdir()] == []  # the first upload's body is gone once ingested


def test_a_file_over_the_cap_is_refused_before_it_is_read(admin_client, settings):
    settings.GRM_UPLOAD_MAX_BYTES = 100
    answer = admin_client.post(reverse("upload-new"), form(jsonl(*[GOOD] * 10)), HTTP_HX_REQUEST="true")
    assert answer.status_code == 413
    assert "over the cap of 100 bytes (GRM_UPLOAD_MAX_BYTES)" in answer.content.decode()
    assert not Upload.objects.exists()


def test_the_preview_shows_the_first_items_as_they_will_be_read_escaped(admin_client):
    head = jsonl({"instruction": XSS, "output_1": "a", "output_2": "b", "label": 1}, {"instruction": "q"})
    answer = admin_client.post(
        reverse("upload-preview"), {"format": "native", "head": head.decode(), "head_complete": "on"}
    )
    text = answer.content.decode()
    assert answer.status_code == 200
    assert 'id="format-hint"' in text
    assert "<strong>llmbar</strong>" in text
    assert "None of these items would be stored" in text
    assert 'name="rename:instruction" form="upload-form" data-preview' in text
    assert "<script>alert" not in text
    assert "onerror=alert" not in text.replace("&lt;img src=x onerror=alert", "")

    renamed = admin_client.post(
        reverse("upload-preview"),
        {"format": "llmbar", "head": head.decode(), "head_complete": "on", "rename:instruction": "input"},
    ).content.decode()
    assert 'id="format-hint"' not in renamed
    assert '<option value="input" selected>' in renamed
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in renamed  # the prompt, escaped
    assert '<td class="num">2</td>' in renamed
    assert "<code>output_1</code>: is required" in renamed


def test_the_preview_of_a_cut_head_reads_whole_lines_only(admin_client):
    head = jsonl(GOOD).decode() + '{"prompt": "cut he'
    text = admin_client.post(reverse("upload-preview"), {"format": "native", "head": head}).content.decode()
    assert "The first 1 item, as they will be stored" in text
    assert "the worker checks every line" in text


def test_an_upload_being_ingested_polls_and_shows_the_worker_s_counts(admin_client, reviewer_client):
    upload = Upload.objects.create(dataset_name="big", format="native", size_bytes=4000, status="ingesting")
    upload_files.ProgressFile(upload.pk)(
        ImportProgress(items=1200, created=1100, unchanged=90, rejected=10, bytes_read=1000)
    )
    for client in (admin_client, reviewer_client):
        page = client.get(reverse("upload-detail", args=[upload.pk])).content.decode()
        assert f'hx-get="{reverse("upload-status", args=[upload.pk])}" hx-trigger="every 1s"' in page
        assert '<progress id="upload-bar" max="100" value="25">' in page
        for figure, value in (("items", "1,200"), ("created", "1,100"), ("unchanged", "90"), ("rejected", "10")):
            assert f'id="upload-{figure}"' in page
            assert f">{value}</dd>" in page
    fragment = admin_client.get(reverse("upload-status", args=[upload.pk])).content.decode()
    assert fragment.lstrip().startswith('<section id="upload-status"')
    assert "reading and storing" in fragment


def test_the_bad_lines_are_paged(admin_client):
    upload = Upload.objects.create(dataset_name="x", format="native", status="partial", error_count=120)
    UploadError.objects.bulk_create(
        UploadError(upload=upload, line=n, field="best", message=f"bad {n}") for n in range(1, 121)
    )
    first = admin_client.get(reverse("upload-detail", args=[upload.pk])).content.decode()
    assert ">bad 50</td>" in first
    assert ">bad 51</td>" not in first
    assert "Page 1 of 3" in first
    assert "?page=2#errors" in first
    third = admin_client.get(reverse("upload-detail", args=[upload.pk]) + "?page=3").content.decode()
    assert ">bad 120</td>" in third
    assert ">bad 100</td>" not in third
    assert admin_client.get(reverse("upload-detail", args=[upload.pk]) + "?page=zz").status_code == 200


def test_the_list_filters_by_dataset_and_status(admin_client, reviewer_client):
    Upload.objects.create(dataset_name="alpha", format="native", status="done", filename="a.jsonl")
    Upload.objects.create(dataset_name="beta", format="native", status="rejected", filename="b.jsonl")
    every = reviewer_client.get(reverse("uploads")).content.decode()
    assert "a.jsonl" in every
    assert "b.jsonl" in every
    assert "Upload a file" not in every  # reviewers follow uploads; admins send them
    assert "Upload a file" in admin_client.get(reverse("uploads")).content.decode()
    by_dataset = admin_client.get(reverse("uploads") + "?dataset=alpha").content.decode()
    assert "a.jsonl" in by_dataset
    assert "b.jsonl" not in by_dataset
    by_status = admin_client.get(reverse("uploads") + "?status=rejected&dataset=").content.decode()
    assert "b.jsonl" in by_status
    assert "a.jsonl" not in by_status
    assert admin_client.get(reverse("uploads") + "?status=nonsense").status_code == 200


def test_home_and_dataset_pages_lead_to_the_upload(admin_client):
    DatasetFactory.create(name="mine")
    assert reverse("upload-new") in admin_client.get(reverse("home")).content.decode()
    page = admin_client.get(reverse("dataset-detail", args=["mine"])).content.decode()
    assert f"{reverse('upload-new')}?dataset=mine" in page
    assert f"{reverse('uploads')}?dataset=mine" in page
