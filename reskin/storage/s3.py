"""S3-compatible object storage (AWS, MinIO, R2, ...): upload, presign, fetch, delete.

::

    storage = S3Storage.from_settings(settings)
    target = storage.location_for("job-1234/clip.mp4")    # s3://<bucket>/<prefix>job-1234/...
    storage.upload(clip, target)                           # streamed, multipart when large
    url = storage.presign_get(target, settings.s3_presign_expiry_s)   # what the service sees
    storage.download(S3Location.parse("s3://media/in.mp4"), dest, max_bytes=..., timeout_s=...)
    for listed in storage.list_folder(S3Prefix.parse("s3://media/inbox/")): ...  # paginated
    storage.delete(target)

The module is synchronous on purpose: boto3 is, its managed transfer runs its own thread pool,
and an async S3 client (aiobotocore) would be another dependency for no gain. Async callers use
``anyio.to_thread.run_sync``/``asyncio.to_thread``.

Failures leave as reskin errors, converted once (:meth:`S3Storage._errors`):

=========================================  ===================================================
what S3 says                               raised
=========================================  ===================================================
no credentials, refused credentials,       :class:`ConfigError`: which variables to set; never
no permission, wrong region, no bucket     the secret
no such object (reading)                   :class:`InputError`: check the s3:// URL
unreachable, timeouts, 5xx after retries,  :class:`StorageError`
anything else
=========================================  ===================================================
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reskin.errors import ConfigError, InputError, ReskinError, StorageError
from reskin.settings import Settings

# boto3 and botocore are imported where a client is made or its errors are read: they take
# about 0.3 s of CPU to load, and every reskin process imports this module for its locations,
# while most never touch S3.
if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_s3 import S3Client

MIB = 1024 * 1024
#: Parts in flight at once: memory holds at most a few parts (read lazily from the file), and
#: four streams saturate a link without starving the two cores the rest of a run shares.
UPLOAD_CONCURRENCY = 4
#: SigV4 caps a presigned URL at 7 days.
PRESIGN_MAX_S = 7 * 24 * 3600
_CHUNK = MIB

# Bucket names as S3 accepts them today (3 to 63 of a-z 0-9 . -, alphanumeric at both ends).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_CREDENTIAL_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "AccountProblem",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)
_REGION_CODES = frozenset({"301", "AuthorizationHeaderMalformed", "PermanentRedirect"})
_MISSING_OBJECT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_CREDENTIALS_HINT = (
    "set RESKIN_S3_ACCESS_KEY_ID and RESKIN_S3_SECRET_ACCESS_KEY, or the standard AWS "
    "variables or profile"
)


@dataclass(frozen=True)
class S3Location:
    """One object: ``s3://bucket/key``."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """``s3://bucket/key`` -> its location; anything else is a one-line InputError."""
        if not url.startswith("s3://"):
            raise InputError(f"{_shown(url)} is not an s3:// URL: expected s3://bucket/key")
        bucket, _, key = url[len("s3://") :].partition("/")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket:
            raise InputError(
                f"{_shown(url)}: {_shown(bucket)} is not a bucket name (3 to 63 of a-z, 0-9, "
                "'.', '-'): expected s3://bucket/key"
            )
        problem = _key_problem(key)
        if problem:
            raise InputError(f"{_shown(url)}: {problem}: expected s3://bucket/key")
        return cls(bucket, key)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class S3Prefix:
    """A "folder" of a bucket: the keys that start with ``prefix`` (empty, or ending in '/')."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Prefix:
        """``s3://bucket/some/folder/`` -> its prefix (the last '/' may be left out;
        ``s3://bucket`` is the whole bucket); anything else is a one-line InputError."""
        expected = "expected s3://bucket/folder/"
        if not url.startswith("s3://"):
            raise InputError(f"{_shown(url)} is not an s3:// URL: {expected}")
        bucket, _, key = url[len("s3://") :].partition("/")
        if not _BUCKET.fullmatch(bucket) or ".." in bucket:
            raise InputError(
                f"{_shown(url)}: {_shown(bucket)} is not a bucket name (3 to 63 of a-z, 0-9, "
                f"'.', '-'): {expected}"
            )
        if key.startswith("/"):
            problem: str | None = "the folder starts with '/' (write s3://bucket/folder/)"
        else:
            problem = _key_problem(key.rstrip("/")) if key else None
        if problem:
            raise InputError(f"{_shown(url)}: {problem}: {expected}")
        return cls(bucket, key if not key or key.endswith("/") else key + "/")

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def location(self, name: str) -> S3Location:
        """The object ``name`` (a key relative to the folder) in this folder."""
        return S3Location.parse(self.url + name)

    def __str__(self) -> str:
        return self.url


def _key_problem(key: str) -> str | None:
    if not key or key.endswith("/"):
        return "no object key (a folder is not a file)"
    if key.startswith("/"):
        return "the key starts with '/' (write s3://bucket/key, one slash)"
    if _CONTROL.search(key):
        return "the key holds control characters"
    if len(key.encode("utf-8")) > 1024:
        return "the key is over S3's 1024 bytes"
    return None


def _shown(text: str) -> str:
    """A user's text in a message: quoted, one line, not too long."""
    return repr(text if len(text) <= 120 else text[:117] + "...")


@dataclass(frozen=True)
class ObjectInfo:
    """What a HEAD of an object tells."""

    size: int
    etag: str
    content_type: str | None


@dataclass(frozen=True)
class ListedObject:
    """One object of a listing: its key, size and ETag."""

    key: str
    size: int
    etag: str


def s3_client(settings: Settings) -> S3Client:
    """A boto3 S3 client from the settings: their retries and timeouts, SigV4, and path-style
    addressing for a custom endpoint (MinIO and most look-alikes serve no bucket subdomains)."""
    key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    if (key_id is None) != (secret is None):
        raise ConfigError(
            "set both RESKIN_S3_ACCESS_KEY_ID and RESKIN_S3_SECRET_ACCESS_KEY, or neither "
            "(then boto3's standard chain: AWS_* variables, profile, instance role)"
        )
    import boto3
    from botocore.config import Config

    custom = settings.s3_endpoint_url is not None
    config = Config(
        signature_version="s3v4",
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": settings.max_retries + 1},
        max_pool_connections=UPLOAD_CONCURRENCY * 2,
        s3={"addressing_style": "path" if custom else "auto"},
        # Since boto3 1.36 every upload carries a CRC trailer by default, which several
        # S3-compatible servers refuse; AWS itself gets the default.
        request_checksum_calculation="when_required" if custom else "when_supported",
        response_checksum_validation="when_required" if custom else "when_supported",
    )
    session = boto3.session.Session(
        aws_access_key_id=key_id,
        aws_secret_access_key=None if secret is None else secret.get_secret_value(),
        # SigV4 needs a region; S3 look-alikes accept any, so name the usual one.
        region_name=settings.s3_region or ("us-east-1" if custom else None),
    )
    return session.client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


class S3Storage:
    """The S3 operations reskin needs, on one client, with errors converted."""

    def __init__(
        self,
        client: S3Client,
        *,
        bucket: str | None = None,
        prefix: str = "reskin/",
        chunk_mb: int = 16,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        from boto3.s3.transfer import TransferConfig

        self._transfer = TransferConfig(
            multipart_threshold=chunk_mb * MIB,
            multipart_chunksize=chunk_mb * MIB,
            max_concurrency=UPLOAD_CONCURRENCY,
            use_threads=True,
            # Only the classic transfer has the memory bound measured in the tests.
            preferred_transfer_client="classic",
        )

    @classmethod
    def from_settings(cls, settings: Settings, client: S3Client | None = None) -> S3Storage:
        return cls(
            client or s3_client(settings),
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            chunk_mb=settings.s3_multipart_chunk_mb,
        )

    def __repr__(self) -> str:
        return f"S3Storage(endpoint={self.endpoint!r}, bucket={self._bucket!r})"

    @property
    def endpoint(self) -> str:
        return str(self._client.meta.endpoint_url)

    def location_for(self, name: str) -> S3Location:
        """Where reskin uploads ``name``: the configured bucket, under the prefix."""
        if self._bucket is None:
            raise ConfigError("uploading to S3 needs a bucket: set RESKIN_S3_BUCKET")
        return S3Location.parse(f"s3://{self._bucket}/{self._prefix}{name}")

    def upload(self, path: Path, location: S3Location, *, content_type: str | None = None) -> int:
        """Stream ``path`` to ``location`` (in parts when large); return its size in bytes."""
        from boto3.s3.transfer import create_transfer_manager

        size = path.stat().st_size
        kind = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        with (
            self._errors("upload to", location, missing=ConfigError),
            create_transfer_manager(self._client, self._transfer) as manager,
        ):
            manager.upload(
                str(path), location.bucket, location.key, extra_args={"ContentType": kind}
            ).result()
        return size

    def presign_get(self, location: S3Location, expires_s: int) -> str:
        """A URL that lets anyone GET ``location`` for ``expires_s`` seconds: a credential,
        to hand to the service and nowhere else."""
        if not 1 <= expires_s <= PRESIGN_MAX_S:
            raise ConfigError(
                f"a presigned URL lasts 1 to {PRESIGN_MAX_S} s, not {expires_s}: "
                "check RESKIN_S3_PRESIGN_EXPIRY_S"
            )
        with self._errors("presign", location, missing=ConfigError):
            return self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": location.bucket, "Key": location.key},
                ExpiresIn=expires_s,
            )

    def delete(self, location: S3Location) -> None:
        """Delete ``location``; deleting what is already gone is not an error (S3's rule)."""
        with self._errors("delete", location, missing=ConfigError):
            self._client.delete_object(Bucket=location.bucket, Key=location.key)

    def head(self, location: S3Location) -> ObjectInfo:
        """Size, ETag and type of ``location``; InputError when there is no such object."""
        with self._errors("read", location, missing=InputError):
            answer = self._client.head_object(Bucket=location.bucket, Key=location.key)
        return ObjectInfo(
            size=answer["ContentLength"],
            etag=answer["ETag"],
            content_type=answer.get("ContentType"),
        )

    def check_bucket(self, location: S3Location) -> None:
        """Fail now, with what to fix, when ``location``'s bucket is missing or these
        credentials cannot reach it: an output must not be found unwritable after the edit
        was paid for."""
        from botocore.exceptions import ClientError

        try:
            with self._errors("reach", location, missing=ConfigError):
                self._client.head_bucket(Bucket=location.bucket)
        except ConfigError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") in (
                "404",
                "NoSuchBucket",
            ):
                raise ConfigError(
                    f"bucket {location.bucket} does not exist at {self.endpoint}: create it, "
                    f"or fix {location}"
                ) from cause
            raise

    def exists(self, location: S3Location) -> bool:
        try:
            self.head(location)
        except InputError:
            return False
        return True

    def list_folder(self, folder: S3Prefix, *, page_size: int = 1000) -> Iterator[ListedObject]:
        """The objects directly in ``folder``, in key order, read a page at a time as the
        caller goes on (it may stop early). Keys under its sub-folders are not listed: S3 rolls
        each sub-folder up into one entry (the '/' delimiter), which is skipped."""
        where = S3Location(folder.bucket, folder.prefix)  # for messages: a folder is no object
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=folder.bucket,
            Prefix=folder.prefix,
            Delimiter="/",
            PaginationConfig={"PageSize": page_size},
        )
        with self._errors("list", where, missing=InputError):
            for page in pages:
                for item in page.get("Contents", []):
                    yield ListedObject(item["Key"], item["Size"], item["ETag"])

    def download(
        self, location: S3Location, dest: Path, *, max_bytes: int, timeout_s: float
    ) -> int:
        """Stream ``location`` to ``dest``; return its size in bytes.

        Refused (InputError) when larger than ``max_bytes``, by its declared size and again
        while streaming. Bytes go to ``dest`` + ``.part``, renamed only once whole, so ``dest``
        is never a half file. The GET asks for the ETag seen by the HEAD: an object replaced
        in between fails instead of mixing two versions.
        """
        deadline = time.monotonic() + timeout_s
        info = self.head(location)
        if info.size > max_bytes:
            raise InputError(_too_big(location, max_bytes, f"is {info.size} bytes, over"))
        partial = dest.with_name(dest.name + ".part")
        try:
            with self._errors("download", location, missing=InputError):
                got = self._stream(location, info, partial, max_bytes, deadline, timeout_s)
            partial.replace(dest)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return got

    def _stream(
        self,
        location: S3Location,
        info: ObjectInfo,
        partial: Path,
        max_bytes: int,
        deadline: float,
        timeout_s: float,
    ) -> int:
        answer = self._client.get_object(
            Bucket=location.bucket, Key=location.key, IfMatch=info.etag
        )
        got = 0
        body = answer["Body"]
        # closing(), not ``with body``: StreamingBody's __enter__ hands out the raw urllib3 stream.
        with contextlib.closing(body), partial.open("wb") as out:
            for chunk in body.iter_chunks(_CHUNK):
                got += len(chunk)
                if got > max_bytes:
                    raise InputError(_too_big(location, max_bytes, "grew past"))
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"downloading {location} took over {timeout_s:g} s: raise "
                        "RESKIN_DOWNLOAD_TIMEOUT_S or check the link to the storage"
                    )
                out.write(chunk)
            out.flush()
            with contextlib.suppress(OSError):
                os.fsync(out.fileno())
        if got != info.size:
            raise StorageError(
                f"downloading {location} stopped at {got} of {info.size} bytes: "
                "rerun to download it again"
            )
        return got

    @contextlib.contextmanager
    def _errors(
        self, action: str, location: S3Location, *, missing: type[ReskinError]
    ) -> Iterator[None]:
        """Convert boto3's failures once. ``missing`` is raised for an absent object: an
        input error when reading the user's object, a config error for reskin's own bucket."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            CredentialRetrievalError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        try:
            yield
        except ClientError as exc:
            raise self._client_error(exc, action, location, missing) from exc
        except (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError) as exc:
            raise ConfigError(
                f"no usable S3 credentials for {location}: {_CREDENTIALS_HINT}"
            ) from exc
        except BotoCoreError as exc:
            # Connection failures, timeouts, cut streams; botocore's text names the endpoint
            # and the failure, and never a credential.
            raise StorageError(
                f"S3 at {self.endpoint} failed to {action} {location} ({type(exc).__name__}); "
                "check RESKIN_S3_ENDPOINT_URL and that the storage is reachable, then rerun"
            ) from exc

    def _client_error(
        self, exc: ClientError, action: str, location: S3Location, missing: type[ReskinError]
    ) -> ReskinError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        where = f"S3 at {self.endpoint} refused to {action} {location} ({code})"
        if code in _CREDENTIAL_CODES:
            return ConfigError(
                f"{where}: the credentials are wrong or lack permission on bucket "
                f"{location.bucket}; {_CREDENTIALS_HINT}"
            )
        if code in _REGION_CODES:
            return ConfigError(f"{where}: set RESKIN_S3_REGION to the bucket's region")
        if code == "NoSuchBucket":
            return missing(
                f"{where}: bucket {location.bucket} does not exist; create it, or check "
                "RESKIN_S3_BUCKET or the s3:// URL"
            )
        if code in _MISSING_OBJECT_CODES:
            return missing(f"{location} does not exist (S3 at {self.endpoint}): check the URL")
        if code in ("412", "PreconditionFailed"):
            return StorageError(f"{location} changed while it was read: rerun to read it again")
        return StorageError(f"{where}, HTTP {status}, after retries: try again later")


def _too_big(location: S3Location, max_bytes: int, verb: str) -> str:
    return (
        f"{location} {verb} the {max_bytes}-byte cap: raise RESKIN_DOWNLOAD_MAX_BYTES "
        "or use a smaller file"
    )


#: The S3 storage, made when first needed (most runs never touch S3, and boto3 is slow to
#: load).
StorageOf = Callable[[], S3Storage]
