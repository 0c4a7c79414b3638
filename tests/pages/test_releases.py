"""The releases pages: the build form and its errors beside the field, the list with rows that poll
while a release builds, the manifest page, downloads through the session, admins only, escaping."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.urls import reverse

from reviews import enqueue
from reviews.models import FailureMode, Release
from reviews.services.releases import MANIFEST, release_build, release_create, release_folder
from tests.factories import ReleaseFactory
from tests.queries import assert_count_does_not_grow, count_queries
from tests.release_data import OLD_CONTENT, converted_release, judged_dataset

pytestmark = pytest.mark.django_db

PAYLOAD = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


@pytest.fixture(autouse=True)
def release_dir(settings, tmp_path):
    settings.GRM_RELEASE_DIR = tmp_path / "releases"
    return settings.GRM_RELEASE_DIR


def built(kind: str = "rft_sft", **kwargs) -> Release:
    release = release_create(kind=kind, build=False, **kwargs)
    ready = release_build(release_id=release.id)
    assert ready is not None
    assert ready.status == Release.Status.READY, ready.error_message
    return Release.objects.select_related("created_by", "rft_round").get(pk=ready.pk)


def form_data(**fields) -> dict[str, object]:
    return {"kind": "rft_sft", "seed": "0", "validation_fraction": "0.1", **fields}


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_releases_pages_are_for_admins_only(reviewer_client, client, admin_client):
    release = ReleaseFactory.create()
    urls = [
        reverse("releases"),
        reverse("release-detail", args=[release.id]),
        reverse("release-row", args=[release.id]),
        reverse("release-file", args=[release.id, "train.jsonl"]),
    ]
    for url in urls:
        assert reviewer_client.get(url).status_code == 403, url
        assert client.get(url)["Location"].startswith(reverse("login")), url
        assert admin_client.get(url).status_code == 200, url
    assert reviewer_client.post(reverse("releases"), form_data()).status_code == 403
    assert Release.objects.count() == 1
    assert b'href="/releases/"' in admin_client.get(reverse("home")).content
    assert b'href="/releases/"' not in reviewer_client.get(reverse("home")).content


def test_building_queues_a_release_and_its_row_polls_until_it_is_ready(
    admin_client, admin_user, sent_tasks, django_capture_on_commit_callbacks
):
    _dataset, run = judged_dataset("main")
    data = form_data(name="sft", dataset=["main"], run=[str(run.id)], seed="4", validation_fraction="0")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("releases"), data, follow=True)
    release = Release.objects.get()
    assert response.redirect_chain == [(reverse("releases"), 302)]
    assert (release.name, release.kind, release.seed, release.created_by) == ("sft", "rft_sft", 4, admin_user)
    assert release.filters == {"dataset": ["main"], "run": [run.id]}
    assert sent_tasks.ids(enqueue.RELEASE_BUILD) == [release.id]
    page = response.content.decode()
    assert "Release sft v1 queued" in page
    row_url = reverse("release-row", args=[release.id])
    row = page[page.index(f'id="release-{release.id}"') :].split("</tr>")[0]
    assert f'hx-get="{row_url}" hx-trigger="every 1s"' in row
    assert "<progress" in row

    Release.objects.filter(pk=release.pk).update(status="building", rows_done=3, rows_total=12)
    fragment = admin_client.get(row_url).content.decode()
    assert fragment.startswith("<tr")
    assert 'hx-trigger="every 1s"' in fragment
    assert '<progress max="100" value="25">' in fragment
    assert "3 of 12 source rows" in fragment

    Release.objects.filter(pk=release.pk).update(status="queued")  # the worker's turn: it claims a queued one
    release_build(release_id=release.id)
    release.refresh_from_db()
    fragment = admin_client.get(row_url).content.decode()
    assert "hx-get" not in fragment
    assert "<progress" not in fragment
    assert f'<code title="{release.sha256}">{release.sha256[:12]}</code>' in fragment
    for name in ["train.jsonl", "train.parquet", MANIFEST]:
        assert f'href="{reverse("release-file", args=[release.id, name])}"' in fragment


def test_a_failed_build_shows_its_message(admin_client):
    judged_dataset("main")
    release = release_create(kind="rft_sft", filters={"subset": ["nowhere"]}, build=False)
    release_build(release_id=release.id)
    row = admin_client.get(reverse("release-row", args=[release.id])).content.decode()
    assert "Failed" in row
    assert "nothing to export" in row
    assert "hx-get" not in row
    detail = admin_client.get(reverse("release-detail", args=[release.id])).content.decode()
    assert 'id="release-error"' in detail
    assert "nothing to export" in detail
    response = admin_client.get(reverse("release-file", args=[release.id, "train.jsonl"]))
    assert response.status_code == 409
    assert b"not ready" in response.content


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (form_data(kind="everything"), "kind", "Select a valid choice"),
        (form_data(kind=""), "kind", "This field is required"),
        (form_data(name="not a slug!"), "name", "name must be 1-100 letters"),
        (form_data(validation_fraction="1"), "validation_fraction", "validation_fraction must be from 0 to below 1"),
        (form_data(seed="-1"), "seed", "greater than or equal to 0"),
        (form_data(run=["999999"]), "run", "Select a valid choice"),
        (form_data(run=["9" * 30]), "run", "is not a valid value"),
        (form_data(dataset=["nope"]), "dataset", "Select a valid choice"),
        (form_data(since="2025-02-01", until="2025-01-01"), "since", "since must not be after until"),
        (form_data(since="yesterday"), "since", "Enter a valid date"),
        (form_data(kind="rl_prompts", reviewer_accepted="on"), "reviewer_accepted", "does not apply"),
    ],
)
def test_form_errors_show_beside_the_field_and_keep_the_input(admin_client, data, field, message):
    judged_dataset("main")
    response = admin_client.post(reverse("releases"), data)
    assert response.status_code == 400
    page = response.content.decode()
    error = page[page.index(f'id="error-{field}"') :].split("</div>")[0]
    assert message in error, error
    assert not Release.objects.exists()


def test_the_form_offers_datasets_runs_rounds_and_failure_modes(admin_client):
    _dataset, run = judged_dataset("main")
    FailureMode.objects.get_or_create(code="wrong-math", defaults={"label": "Wrong math"})
    page = admin_client.get(reverse("releases")).content.decode()
    form = page[page.index('id="release-form"') :]
    assert '<option value="main">main</option>' in form
    assert f'<option value="{run.id}">#{run.id} · main' in form
    assert '<option value="wrong-math">' in form
    for kind in Release.Kind.values:
        assert f'<option value="{kind}"' in form
    assert 'type="date"' in form
    assert 'name="reviewer_accepted"' in form


def test_the_detail_page_shows_the_manifest_readably(admin_client, admin_user):
    _, run = judged_dataset("main", subset="math")
    release = built("metarm", filters={"dataset": ["main"]}, seed=9, validation_fraction=0, created_by=admin_user)
    page = admin_client.get(reverse("release-detail", args=[release.id])).content.decode()
    manifest = release.manifest
    assert "hx-get" not in page  # ready: nothing to follow
    assert "<dt>Kind</dt><dd>metarm</dd>" in page
    assert "<dt>Seed</dt><dd>9</dd>" in page
    assert "<dt>Built by</dt><dd>alice-admin</dd>" in page
    assert "<tr><td>dataset</td><td>main</td></tr>" in page
    by_subset = page[page.index('id="counts-by-subset"') :].split("</table>")[0]
    assert f'<td>math</td><td class="num">{manifest["counts"]["by_subset"]["math"]}</td>' in by_subset
    by_label = page[page.index('id="counts-by-label"') :].split("</table>")[0]
    for label, count in manifest["counts"]["by_label"].items():
        assert f'<td>{label}</td><td class="num">{count}</td>' in by_label
    assert f'<a href="{reverse("run-detail", args=[run.id])}">#{run.id}</a>' in page
    for name in manifest["templates"] + manifest["models"]:
        assert f'<span class="tag">{name}</span>' in page
    files = page[page.index('id="release-files"') :].split("</table>")[0]
    for file in manifest["files"]:
        assert f'href="{reverse("release-file", args=[release.id, file["name"]])}"' in files
        assert f"<code>{file['sha256']}</code>" in files
    assert f'href="{reverse("release-file", args=[release.id, MANIFEST])}"' in files
    assert release.sha256 in page
    snippet = page[page.index('id="load-dataset"') :].split("</pre>")[0]
    assert "load_dataset(&quot;json&quot;" in snippet
    assert f"&quot;train&quot;: &quot;{release.name}-v1-train.jsonl&quot;" in snippet


def test_the_detail_page_follows_a_build(admin_client):
    release = ReleaseFactory.create(status=Release.Status.BUILDING, rows_done=5, rows_total=10, sha256="")
    page = admin_client.get(reverse("release-detail", args=[release.id])).content.decode()
    url = reverse("release-detail", args=[release.id])
    assert f'hx-get="{url}" hx-trigger="every 1s" hx-select="#release-page"' in page
    assert '<progress max="100" value="50">' in page
    assert 'id="release-files"' not in page  # the files come once it is ready


def test_files_download_through_the_page_with_their_checksum(admin_client):
    judged_dataset("main")
    release = built("pairs", filters={"dataset": ["main"]}, validation_fraction=0)
    for file in release.files:
        response = admin_client.get(reverse("release-file", args=[release.id, file["name"]]))
        data = body(response)
        assert response.status_code == 200
        assert hashlib.sha256(data).hexdigest() == file["sha256"] == response["X-Checksum-SHA256"]
        assert response["Content-Disposition"] == f'attachment; filename="{release.name}-v1-{file["name"]}"'
        etag = response["ETag"]
        assert admin_client.get(response.wsgi_request.path, headers={"If-None-Match": etag}).status_code == 304
    manifest = admin_client.get(reverse("release-file", args=[release.id, MANIFEST]))
    assert json.loads(body(manifest)) == release.manifest
    (release_folder(release) / "notes.txt").write_text("not in the manifest")
    for name in ["notes.txt", "..", "manifest"]:
        assert admin_client.get(reverse("release-file", args=[release.id, name])).status_code == 404
    assert admin_client.get(f"/releases/{release.id}/files/../notes.txt").status_code == 404


def test_untrusted_names_render_escaped(admin_client):
    # Created past the services' name checks, as data arriving by another road could be.
    dataset, _ = judged_dataset(PAYLOAD, subset=PAYLOAD, prompt=PAYLOAD)
    FailureMode.objects.create(code="xss", label=PAYLOAD)
    release = built("rft_sft", filters={"dataset": [dataset.name]}, validation_fraction=0)
    for url in [reverse("releases"), reverse("release-detail", args=[release.id])]:
        page = admin_client.get(url).content.decode()
        assert PAYLOAD not in page, url
        assert ESCAPED in page, url


def test_the_list_query_count_does_not_grow_with_releases(admin_client, admin_user):
    ReleaseFactory.create(created_by=admin_user)
    admin_client.get(reverse("releases"))
    with count_queries() as few:
        assert admin_client.get(reverse("releases")).status_code == 200
    for _ in range(8):
        ReleaseFactory.create(created_by=admin_user, status=Release.Status.BUILDING)
    with count_queries() as many:
        assert admin_client.get(reverse("releases")).status_code == 200
    assert_count_does_not_grow({"1 release": few, "9 releases": many})


def test_a_release_converted_from_a_single_file_shows_and_serves_its_file(admin_client):
    release = converted_release()
    page = admin_client.get(reverse("release-detail", args=[release.id]))
    assert page.status_code == 200
    files = page.content.decode()[page.content.decode().index('id="release-files"') :].split("</table>")[0]
    url = reverse("release-file", args=[release.id, "old.jsonl"])
    assert f'<a href="{url}" download>old.jsonl</a></td><td>train</td><td>jsonl</td>' in files
    assert '<td class="num">\u2013</td>' in files  # rows: not known
    snippet = page.content.decode()[page.content.decode().index('id="load-dataset"') :]
    assert "&quot;train&quot;: &quot;old-export-v1-old.jsonl&quot;" in snippet
    response = admin_client.get(url)
    assert response.status_code == 200
    assert body(response) == OLD_CONTENT
    assert response["X-Checksum-SHA256"] == hashlib.sha256(OLD_CONTENT).hexdigest()
    assert response["Content-Type"] == "application/x-ndjson"
    row = admin_client.get(reverse("release-row", args=[release.id])).content.decode()
    assert f'href="{url}"' in row
