"""S3 specifics, against moto's standalone server over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcap.files.s3 import PART_SIZE, S3FileStore
from localcap.files.store import StoreConfigError, open_store


def test_endpoint_comes_from_aws_endpoint_url(s3_store: S3FileStore, aws_env: str) -> None:
    # open_store() was given only "s3://bucket/prefix": the endpoint came from the environment.
    assert s3_store.client.meta.endpoint_url == aws_env
    assert s3_store.prefix == "study/files"


def test_objects_live_under_the_prefix(s3_store: S3FileStore, s3_client, bucket: str) -> None:  # noqa: ANN001
    key = s3_store.put([b"hello"]).key
    listed = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == [f"study/files/{key}"]
    # Foreign objects under the prefix are not keys.
    s3_client.put_object(Bucket=bucket, Key="study/files/notes.txt", Body=b"x")
    s3_client.put_object(Bucket=bucket, Key="other/" + "a" * 32, Body=b"x")
    assert list(s3_store.iter_keys()) == [key]


def test_small_upload_is_a_single_put(s3_store: S3FileStore, s3_client, bucket: str) -> None:  # noqa: ANN001
    key = s3_store.put([b"a" * 1000, b"b" * 1000]).key
    etag = s3_client.head_object(Bucket=bucket, Key=f"study/files/{key}")["ETag"]
    assert "-" not in etag  # not a multipart ETag


def test_multipart_upload_over_8_mb(s3_store: S3FileStore, s3_client, bucket: str) -> None:  # noqa: ANN001
    data = os.urandom(2 * PART_SIZE + 4 * 1024 * 1024 + 123)
    # Odd chunk sizes so that part boundaries fall inside chunks.
    chunks = (data[i : i + 1_000_003] for i in range(0, len(data), 1_000_003))
    stored = s3_store.put(chunks)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    head = s3_client.head_object(Bucket=bucket, Key=f"study/files/{stored.key}")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: 8 + 8 + 4 MiB
    assert head["ContentLength"] == len(data)
    assert b"".join(s3_store.open(stored.key)) == data


def test_exactly_one_part(s3_store: S3FileStore) -> None:
    data = os.urandom(PART_SIZE)
    stored = s3_store.put([data])
    assert b"".join(s3_store.open(stored.key)) == data


class Boom(Exception):
    pass


def test_failed_multipart_upload_is_aborted(s3_store: S3FileStore, s3_client, bucket: str) -> None:  # noqa: ANN001
    def stream() -> Iterator[bytes]:
        for _ in range(20):
            yield os.urandom(1 << 20)
        raise Boom

    with pytest.raises(Boom):
        s3_store.put(stream())
    assert s3_client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert s3_client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_missing_bucket_is_a_clear_error(aws_env: str, tmp_path: Path) -> None:
    with pytest.raises(StoreConfigError) as caught:
        open_store("s3://no-such-bucket-here/prefix", tmp_path)
    message = str(caught.value)
    assert "'no-such-bucket-here'" in message
    assert "does not exist" in message
    assert "aws s3 mb s3://no-such-bucket-here" in message


def test_bucket_deleted_after_start_is_a_clear_error(
    s3_store: S3FileStore,
    s3_client,  # noqa: ANN001
    bucket: str,
) -> None:
    s3_client.delete_bucket(Bucket=bucket)
    with pytest.raises(StoreConfigError, match=bucket):
        s3_store.put([b"x"])
    with pytest.raises(StoreConfigError, match=bucket):
        s3_store.put([os.urandom(PART_SIZE + 1)])
    with pytest.raises(StoreConfigError, match=bucket):
        list(s3_store.iter_keys())


def test_store_creates_no_bucket(aws_env: str, s3_client, tmp_path: Path) -> None:  # noqa: ANN001
    before = {b["Name"] for b in s3_client.list_buckets().get("Buckets", [])}
    with pytest.raises(StoreConfigError):
        open_store("s3://not-created-implicitly", tmp_path)
    after = {b["Name"] for b in s3_client.list_buckets().get("Buckets", [])}
    assert after == before


def test_bad_urls(tmp_path: Path) -> None:
    for url in ("s3://", "ftp://x/y", "file://host/path", "file:relative/path"):
        with pytest.raises(StoreConfigError):
            open_store(url, tmp_path)


def test_big_stream_in_flat_memory(s3_store: S3FileStore, peak_rss) -> None:  # noqa: ANN001
    """64 MB up (multipart) and down: client memory stays around one part, not the file."""
    block = os.urandom(1 << 20)
    with peak_rss() as put_mem:
        stored = s3_store.put(block for _ in range(64))
    digest = hashlib.sha256()
    with peak_rss() as open_mem:
        for chunk in s3_store.open(stored.key):
            digest.update(chunk)
    assert digest.hexdigest() == stored.sha256
    assert put_mem.growth < 48 << 20, put_mem.growth
    assert open_mem.growth < 16 << 20, open_mem.growth
