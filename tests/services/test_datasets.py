"""Datasets: the importer (public preference files in, idempotent re-imports, bad files refused whole) and the
team-written demo dataset, loaded idempotently by `grm_setup`."""

import io
import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from reviews.ingest import copy_writer
from reviews.models import Dataset, ModelConfig, PromptTemplate, Query, Response
from reviews.services.datasets import ImportRefused, dataset_import, demo_load
from tests.conftest import shared_data
from workers.grm.templates import DEFAULT_TEMPLATE

pytestmark = pytest.mark.django_db


def run_import(path, dataset, fmt, *extra):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_preferences", str(path), "--dataset", dataset, "--format", fmt, *extra, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_llmbar_natural_gives_100_queries_200_responses_with_labels_and_reimport_creates_nothing():
    path = shared_data("llmbar/Natural.json")
    items = json.loads(path.read_text())
    out, _ = run_import(path, "natural", "llmbar", "--subset", "Natural")
    assert "100 new queries" in out
    dataset = Dataset.objects.get(name="natural")
    assert dataset.queries.count() == 100
    assert Response.objects.filter(query__dataset=dataset).count() == 200
    stored = {(q.context[0]["content"], q.best_index) for q in dataset.queries.all()}
    assert stored == {(item["input"], item["label"] - 1) for item in items}
    first = dataset.queries.order_by("id").first()
    assert first is not None
    assert [r.text for r in first.responses.order_by("position")] == [items[0]["output_1"], items[0]["output_2"]]
    assert set(dataset.queries.values_list("subset", flat=True)) == {"Natural"}

    out, _ = run_import(path, "natural", "llmbar", "--subset", "Natural")
    assert "0 new queries, 100 unchanged" in out
    assert Query.objects.count() == 100
    assert Response.objects.count() == 200


def test_every_llmbar_file_imports_with_its_labels():
    total = 0
    for name in ["Natural", "Adversarial-GPTInst", "Adversarial-GPTOut", "Adversarial-Manual", "Adversarial-Neighbor"]:
        path = shared_data(f"llmbar/{name}.json")
        items = json.loads(path.read_text())
        run_import(path, "llmbar", "llmbar", "--subset", name)
        stored = Query.objects.filter(dataset__name="llmbar", subset=name)
        assert stored.count() == len(items)
        assert sorted((q.best_index or 0) + 1 for q in stored) == sorted(item["label"] for item in items)
        total += len(items)
    assert total == 419
    assert Query.objects.filter(dataset__name="llmbar").count() == total


def test_evalbiasbench_imports_through_a_field_map(tmp_path):
    groups = json.loads(shared_data("evalbiasbench/biasbench.json").read_text())
    flat = [item for items in groups.values() for item in items]
    path = tmp_path / "biasbench.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in flat))
    run_import(path, "bias", "llmbar", "--map", "instruction=input,response1=output_1,response2=output_2,bias=subset")
    assert Query.objects.filter(dataset__name="bias").count() == len(flat) == 80
    assert set(Query.objects.values_list("subset", flat=True)) == {item["bias"] for item in flat}
    assert set(Query.objects.values_list("best_index", flat=True)) == {0}


def write_lines(tmp_path, lines):
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = json.dumps({"id": "ok-1", "prompt": "Q", "responses": ["a", "b"], "best": 1})


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ('{"id": "t", "prompt": "Q", "responses": ["a", "b"', "line 2: truncated JSON"),
        (json.dumps({"id": "m", "responses": ["a", "b"]}), "line 2, field context or prompt: is required"),
        (
            json.dumps({"id": "w", "prompt": "Q", "responses": ["a", 7]}),
            "line 2, field responses[1]: expected a string",
        ),
        (json.dumps({"id": "e", "prompt": "Q", "responses": []}), "line 2, field responses: must hold at least one"),
        (
            json.dumps({"id": "ok-1", "prompt": "Q", "responses": ["a", "b"], "best": 1}),
            "line 2, field id: duplicate id",
        ),
    ],
)
def test_a_bad_line_refuses_the_whole_file_naming_line_and_field(tmp_path, bad_line, expected):
    path = write_lines(tmp_path, [GOOD, bad_line, json.dumps({"id": "ok-3", "prompt": "Q", "responses": ["x"]})])
    with pytest.raises(CommandError, match="nothing was stored"):
        run_import(path, "strict", "native")
    assert not Dataset.objects.filter(name="strict").exists()
    assert Query.objects.count() == 0
    assert Response.objects.count() == 0


def test_error_lines_are_printed_with_file_line_and_field(tmp_path):
    path = write_lines(tmp_path, [GOOD, json.dumps({"id": "w", "prompt": "Q", "responses": ["a", 7]})])
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_preferences", str(path), "--dataset", "d", stdout=io.StringIO(), stderr=err)
    assert "items.jsonl: line 2, field responses[1]: expected a string, got number" in err.getvalue()


def test_every_bad_line_is_reported_not_just_the_first(tmp_path):
    lines = [GOOD, "{not json", json.dumps({"id": "x", "prompt": "Q", "responses": ["a"], "rating": 0}), "[]"]
    with pytest.raises(ImportRefused) as refused:
        dataset_import(dataset_name="d", stream=io.BytesIO("\n".join(lines).encode()), fmt="native")
    assert [(e.line, e.field) for e in refused.value.report.errors] == [(2, ""), (3, "rating"), (4, "")]


def test_a_truncated_json_array_is_refused_with_its_line(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('[\n  {"input": "Q", "output_1": "a", "output_2": "b", "label": 1},\n  {"input": "Q2", "outp')
    with pytest.raises(CommandError):
        run_import(path, "cut", "llmbar")
    with pytest.raises(ImportRefused) as refused:
        dataset_import(dataset_name="cut", stream=path.open("rb"), fmt="llmbar")
    assert [(e.line, e.field) for e in refused.value.report.errors] == [(3, "")]
    assert Query.objects.count() == 0


def test_same_id_with_other_content_is_a_conflict_and_keeps_what_was_stored(tmp_path):
    run_import(write_lines(tmp_path, [GOOD]), "d", "native")
    changed = json.dumps({"id": "ok-1", "prompt": "Q", "responses": ["a", "b"], "best": 0})
    with pytest.raises(ImportRefused) as refused:
        dataset_import(dataset_name="d", stream=io.BytesIO(changed.encode()), fmt="native")
    assert "already exists in d with other content" in str(refused.value.report.errors[0])
    assert Query.objects.get(external_id="ok-1").best_index == 1


def test_partial_stores_the_good_lines_and_reports_the_bad(tmp_path):
    path = write_lines(tmp_path, [GOOD, "{oops", json.dumps({"id": "ok-3", "prompt": "Q", "responses": ["x"]})])
    out, err = run_import(path, "lenient", "native", "--partial")
    assert "2 new queries" in out
    assert "1 bad line(s) skipped" in out
    assert "line 2" in err
    assert set(Query.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-3"}


def test_stdin_and_missing_files(monkeypatch):
    class Stdin:
        buffer = io.BytesIO(GOOD.encode())

    monkeypatch.setattr("sys.stdin", Stdin)
    out, _ = run_import("-", "piped", "native")
    assert "1 new queries" in out
    with pytest.raises(CommandError, match="no such file"):
        run_import("/nonexistent.json", "x", "native")
    with pytest.raises(CommandError, match="--map"):
        run_import("-", "x", "native", "--map", "oops")


def test_import_chunks_larger_than_one_batch(monkeypatch):
    monkeypatch.setattr(copy_writer, "CHUNK", 7)
    lines = [
        json.dumps({"id": f"i{i}", "prompt": f"Q{i}", "responses": ["a", "b", f"c{i}"], "best": i % 3})
        for i in range(30)
    ]
    # Every other line first: the second import then meets stored ids in every chunk.
    first = dataset_import(dataset_name="chunks", stream=io.BytesIO("\n".join(lines[::2]).encode()), fmt="native")
    assert first.created == 15
    report = dataset_import(dataset_name="chunks", stream=io.BytesIO("\n".join(lines).encode()), fmt="native")
    assert (report.created, report.unchanged) == (15, 15)
    assert Response.objects.count() == 90
    stored = {q.external_id: q for q in Query.objects.prefetch_related("responses")}
    assert sorted(stored) == sorted(f"i{i}" for i in range(30))
    assert all(q.best_index == int(q.external_id[1:]) % 3 for q in stored.values())
    assert [r.text for r in stored["i29"].responses.all()] == ["a", "b", "c29"]
    again = dataset_import(dataset_name="chunks", stream=io.BytesIO("\n".join(lines).encode()), fmt="native")
    assert (again.created, again.unchanged) == (0, 30)


@pytest.mark.parametrize("name", ["LLMBar Natural", "llmbar.natural", "", "x" * 101, "../etc"])
def test_dataset_names_must_fit_in_a_url(tmp_path, name):
    with pytest.raises(CommandError, match="--dataset"):
        run_import(write_lines(tmp_path, [GOOD]), name, "native")
    with pytest.raises(ImportRefused):
        dataset_import(dataset_name=name, stream=io.BytesIO(GOOD.encode()), fmt="native")
    assert Dataset.objects.count() == 0


@pytest.mark.parametrize("content", [b"", b"  \n\n", b"[]", b"[ ]\n"])
def test_an_empty_file_is_refused_and_creates_no_dataset(content):
    with pytest.raises(ImportRefused) as refused:
        dataset_import(dataset_name="empty", stream=io.BytesIO(content), fmt="native")
    assert "holds no items" in str(refused.value.report.errors[0])
    assert not Dataset.objects.filter(name="empty").exists()


def test_reimporting_with_another_subset_is_a_conflict_not_a_duplicate():
    path = shared_data("llmbar/Natural.json")
    run_import(path, "natural", "llmbar", "--subset", "Natural")
    with pytest.raises(CommandError, match="100 bad line"):
        run_import(path, "natural", "llmbar")
    assert Query.objects.count() == 100


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"id": "n", "prompt": "Q", "responses": ["a"], "rating": NaN}', "NaN is not a JSON value"),
        ('{"id": "n", "prompt": "Q", "responses": ["a\\u0000b"]}', "NUL character"),
        ('{"id": "n", "prompt": "Q", "responses": ["a"], "metadata": {"x": Infinity}}', "Infinity is not"),
    ],
)
def test_values_the_database_cannot_store_are_line_errors_not_crashes(line, fragment):
    with pytest.raises(ImportRefused) as refused:
        dataset_import(dataset_name="d", stream=io.BytesIO(line.encode()), fmt="native")
    assert fragment in str(refused.value.report.errors[0])


def test_a_non_seekable_stream_is_read_twice_through_a_spool():
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, buffer):
            chunk = self.inner.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    report = dataset_import(dataset_name="piped", stream=io.BufferedReader(Pipe(GOOD.encode())), fmt="native")
    assert report.created == 1


def test_items_are_written_in_chunks(monkeypatch):
    monkeypatch.setattr(copy_writer, "CHUNK", 2)
    chunks = []
    original = copy_writer.Writer.write

    def spy(writer, rows):
        chunks.append([row.external_id for row in rows])
        original(writer, rows)

    monkeypatch.setattr(copy_writer.Writer, "write", spy)
    lines = [json.dumps({"id": f"i{i}", "prompt": f"Q{i}", "responses": ["a"], "rating": 5}) for i in range(5)]
    dataset_import(dataset_name="chunked", stream=io.BytesIO("\n".join(lines).encode()), fmt="native")
    assert chunks == [["i0", "i1"], ["i2", "i3"], ["i4"]]


def test_duplicates_across_chunks_name_the_first_line_and_conflicts_roll_everything_back(monkeypatch):
    monkeypatch.setattr(copy_writer, "CHUNK", 2)
    lines = [json.dumps({"id": f"i{i % 3}", "prompt": "Q", "responses": ["a"], "rating": 5}) for i in range(5)]
    with pytest.raises(ImportRefused) as refused:
        dataset_import(dataset_name="dups", stream=io.BytesIO("\n".join(lines).encode()), fmt="native")
    assert [str(e) for e in refused.value.report.errors] == [
        "line 4, field id: duplicate id 'i0', first on line 1",
        "line 5, field id: duplicate id 'i1', first on line 2",
    ]
    assert not Dataset.objects.filter(name="dups").exists()
    assert Query.objects.count() == 0
    report = dataset_import(
        dataset_name="dups", stream=io.BytesIO("\n".join(lines).encode()), fmt="native", partial=True
    )
    assert (report.created, report.unchanged, report.error_count) == (3, 0, 2)


def test_demo_dataset_covers_four_kinds_of_query_with_labels():
    report = demo_load()
    assert report.created >= 30
    queries = Query.objects.filter(dataset__name="demo").prefetch_related("responses")
    subsets = Counter(query.subset for query in queries)
    assert set(subsets) == {"chat", "reasoning", "safety", "code"}
    assert min(subsets.values()) >= 5
    for query in queries:
        assert 2 <= len(query.responses.all()) <= 4, query.external_id
        assert query.best_index is not None
        assert query.best_index < len(query.responses.all())
    positions = Counter(query.best_index for query in queries)
    assert len(positions) >= 3, "the best response must not sit in one position"


def test_loading_the_demo_twice_creates_nothing():
    demo_load()
    count = Query.objects.count()
    again = demo_load()
    assert (again.created, again.unchanged) == (0, count)
    assert Dataset.objects.filter(name="demo").count() == 1


def test_grm_setup_is_idempotent_and_creates_defaults(capsys):
    call_command("grm_setup")
    first = capsys.readouterr().out
    assert "with password:" in first
    call_command("grm_setup")
    second = capsys.readouterr().out
    assert "password" not in second
    assert "0 new queries" in second
    template = PromptTemplate.objects.get(is_default=True)
    assert template.text == DEFAULT_TEMPLATE
    assert ModelConfig.objects.get(is_default=True).backend == "transformers"
