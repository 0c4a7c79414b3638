"""The checkpoint folder's content hash."""

from workers.metarm import MANIFEST, content_hash


def write(folder, files):
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def test_hash_depends_on_paths_and_bytes_only(tmp_path):
    files = {"config.json": b"{}", "model.safetensors": b"\x00\x01", "sub/tokenizer.json": b"tok"}
    first = write(tmp_path / "a", files)
    second = write(tmp_path / "b", dict(reversed(files.items())))  # written in another order
    assert content_hash(first) == content_hash(second)
    assert len(content_hash(first)) == 64


def test_hash_changes_with_a_byte_or_a_name(tmp_path):
    base = content_hash(write(tmp_path / "a", {"x.bin": b"abc", "y.bin": b"d"}))
    assert content_hash(write(tmp_path / "b", {"x.bin": b"abd", "y.bin": b"d"})) != base
    assert content_hash(write(tmp_path / "c", {"z.bin": b"abc", "y.bin": b"d"})) != base
    # Moving bytes across the boundary between two files changes the hash too.
    assert content_hash(write(tmp_path / "d", {"x.bin": b"ab", "y.bin": b"cd"})) != base


def test_hash_ignores_the_manifest(tmp_path):
    folder = write(tmp_path / "a", {"model.safetensors": b"weights"})
    before = content_hash(folder)
    (folder / MANIFEST).write_text('{"content_hash": "..."}')
    assert content_hash(folder) == before


def test_the_judgments_trained_on_are_kept_and_hashed(tmp_path):
    import json

    from workers.metarm.checkpoint import TRAINED_ON, read_manifest, record_trained_on, write_manifest

    folder = write(tmp_path / "a", {"model.safetensors": b"\x00"})
    write_manifest(folder, {"content_hash": content_hash(folder), "profile": "cpu"})
    before = content_hash(folder)
    records = [{"sample": 1, "query": 7, "label": 0, "source": "reviewer"}]
    digest = record_trained_on(folder, records)
    assert digest != before
    assert digest == content_hash(folder)
    assert read_manifest(folder) == {"content_hash": digest, "profile": "cpu"}
    assert [json.loads(line) for line in (folder / TRAINED_ON).read_text().splitlines()] == records
