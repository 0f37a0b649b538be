"""S3 (or S3-compatible: MinIO, Ceph RGW, Garage, R2...) file store.

Objects are named ``<prefix>/<key>``. Configuration is boto3's own, so operators use what they
already know: ``AWS_ENDPOINT_URL`` (honoured natively by boto3 >= 1.28.57; the pinned 1.44.5
does, ``tests/files`` proves it by pointing it at a local server), ``AWS_DEFAULT_REGION``,
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` or profiles and instance roles.

Choices, and why:

* Uploads stream: the body is cut into 8 MiB parts sent with a multipart upload, so memory per
  upload is one part whatever the file size. Streams shorter than one part go in a single
  ``PutObject`` (one round-trip instead of three). S3 allows at most 10,000 parts, so the part
  size doubles every 1,000 parts (8 MiB parts up to ~8 GB, then 16 MiB...), which lifts the
  ceiling to S3's own 5 TB object limit while keeping small uploads cheap.
* Atomic for free: S3 shows an object only once ``PutObject`` or ``CompleteMultipartUpload``
  succeeds. If the stream fails, the multipart upload is aborted so no parts linger (and bill).
* Downloads stream ``GetObject``'s body in bounded chunks.
* Nothing is created implicitly: a missing bucket is an operator error reported with the
  bucket's name and what to do (:class:`~localcap.files.store.StoreConfigError`).
* With a custom endpoint, path-style addressing (``http://host/bucket/key``): most
  self-hosted S3 servers do not serve ``bucket.host`` names. Request checksums are only sent
  when S3 requires them (botocore >= 1.36 sends CRC32 trailers by default, which several
  S3-compatible servers reject); integrity is covered by our own SHA-256 and ``verify``. Both
  defaults yield to the standard ``AWS_REQUEST_CHECKSUM_CALCULATION`` /
  ``AWS_RESPONSE_CHECKSUM_VALIDATION`` variables when set.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator
from typing import Any

from localcap.files.store import (
    DEFAULT_CHUNK_SIZE,
    ChunkReader,
    MissingFileError,
    StoreConfigError,
    StoredFile,
    check_key,
    is_key,
    new_key,
)

#: Size of each multipart part (S3's minimum for all but the last part is 5 MiB).
PART_SIZE = 8 * 1024 * 1024
#: Double the part size after this many parts, to stay under S3's 10,000-part limit.
PARTS_PER_SIZE_STEP = 1000

_MISSING_BUCKET_CODES = {"NoSuchBucket"}
_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}


class S3FileStore:
    """Files as objects ``<prefix>/<key>`` in one bucket (see the module docstring)."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    @classmethod
    def from_environment(cls, bucket: str, prefix: str = "") -> S3FileStore:
        """Build the boto3 client from the standard AWS environment/config (see module doc)."""
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {}
        if not os.environ.get("AWS_REQUEST_CHECKSUM_CALCULATION"):
            options["request_checksum_calculation"] = "when_required"
        if not os.environ.get("AWS_RESPONSE_CHECKSUM_VALIDATION"):
            options["response_checksum_validation"] = "when_required"
        if os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"):
            options["s3"] = {"addressing_style": "path"}
        client = boto3.session.Session().client("s3", config=Config(**options))
        return cls(bucket, prefix, client)

    def __repr__(self) -> str:
        return f"S3FileStore(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _missing_bucket(self) -> StoreConfigError:
        endpoint = getattr(self.client.meta, "endpoint_url", "?")
        return StoreConfigError(
            f"S3 bucket {self.bucket!r} does not exist at {endpoint}. localcap creates no "
            f"buckets: create it (e.g. `aws s3 mb s3://{self.bucket}`, with --endpoint-url for "
            "a non-AWS server) or fix the file store URL."
        )

    @contextlib.contextmanager
    def _bucket_errors(self) -> Iterator[None]:
        """Turn a missing bucket into an operator-facing error; let anything else through."""
        try:
            yield
        except Exception as error:
            if _error_code(error) in _MISSING_BUCKET_CODES:
                raise self._missing_bucket() from error
            raise

    def check_bucket(self) -> None:
        """Fail fast with a clear message if the bucket is missing or not ours to use."""
        from botocore.exceptions import ClientError, NoCredentialsError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError:
            raise StoreConfigError(
                f"no AWS credentials to reach S3 bucket {self.bucket!r}: set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile/role)"
            ) from None
        except ClientError as error:
            code = _error_code(error)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise self._missing_bucket() from None
            if code in {"403", "AccessDenied", "Forbidden"}:
                raise StoreConfigError(
                    f"access to S3 bucket {self.bucket!r} denied: check the credentials and "
                    "the bucket policy"
                ) from None
            raise

    def put(self, chunks: Iterable[bytes]) -> StoredFile:
        key = new_key()
        name = self._name(key)
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        part_size = PART_SIZE
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        def send_part(data: bytes) -> None:
            nonlocal upload_id
            if upload_id is None:
                upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)[
                    "UploadId"
                ]
            number = len(parts) + 1
            response = self.client.upload_part(
                Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=data
            )
            parts.append({"ETag": response["ETag"], "PartNumber": number})

        with self._bucket_errors():
            try:
                for chunk in chunks:
                    if not chunk:
                        continue
                    digest.update(chunk)
                    size += len(chunk)
                    buffer += chunk
                    while len(buffer) >= part_size:
                        data = bytes(memoryview(buffer)[:part_size])
                        del buffer[:part_size]
                        send_part(data)
                        if len(parts) % PARTS_PER_SIZE_STEP == 0:
                            part_size *= 2
                if upload_id is None:
                    self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(buffer))
                else:
                    if buffer:
                        send_part(bytes(buffer))
                    buffer.clear()
                    self.client.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=name,
                        UploadId=upload_id,
                        MultipartUpload={"Parts": parts},
                    )
            except BaseException:
                if upload_id is not None:
                    with contextlib.suppress(Exception):
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=name, UploadId=upload_id
                        )
                raise
        return StoredFile(key=key, size=size, sha256=digest.hexdigest())

    def open(self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        name = self._name(key)
        with self._bucket_errors():
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=name)
            except Exception as error:
                if _error_code(error) in _MISSING_KEY_CODES:
                    raise MissingFileError(key) from None
                raise
        # The body is a botocore StreamingBody: read(n) pulls from the socket, close() releases
        # the connection. It also checks Content-Length at the end (truncation is an error).
        return ChunkReader(response["Body"], chunk_size)

    def delete(self, key: str) -> None:
        name = self._name(key)
        with self._bucket_errors():
            try:
                self.client.delete_object(Bucket=self.bucket, Key=name)
            except Exception as error:
                if _error_code(error) not in _MISSING_KEY_CODES:
                    raise

    def exists(self, key: str) -> bool:
        name = self._name(key)
        with self._bucket_errors():
            try:
                self.client.head_object(Bucket=self.bucket, Key=name)
            except Exception as error:
                if _error_code(error) in _MISSING_KEY_CODES:
                    return False
                raise
        return True

    def iter_keys(self) -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        paginator = self.client.get_paginator("list_objects_v2")
        with self._bucket_errors():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
                for item in page.get("Contents", ()):
                    rest = item["Key"][len(start) :]
                    if is_key(rest):
                        yield rest


def _error_code(error: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))
