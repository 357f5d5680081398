"""Shared result storage: where every worker reads and writes the results runs persist.

A suspended run resumes as a new execution, possibly on another worker, and runs again
from the top; its steps before the approval gate return their cached results
(``remediate/runs/cache.py``) only if that worker can read them. ``remediate
result-storage`` saves a Prefect storage block from the environment and makes it the API's
default result storage (Prefect's ``/admin/storage``, as ``prefect result-storage set``),
so every run on every worker persists there without any worker setting:

- ``REMEDIATE_RESULTS_URL``: ``s3://bucket[/folder]`` (an S3 or S3-compatible bucket,
  ``prefect-aws``'s ``S3Bucket``) or an absolute path / ``file:///path`` on a volume
  every worker mounts at the same place (``LocalFileSystem``).
- ``REMEDIATE_RESULTS_S3_ENDPOINT_URL``: an S3-compatible server (MinIO, Ceph, ...);
  unset for AWS.
- ``REMEDIATE_RESULTS_S3_REGION``: the bucket's region (else boto3's default).
- ``REMEDIATE_RESULTS_BLOCK``: the block's name (``remediate-results``).

The S3 credentials are never stored in the block: each worker (and the process that runs
this command) gets them from its own environment or role through boto3's chain
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, instance or pod role).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from prefect.client.orchestration import get_client
from prefect.filesystems import LocalFileSystem
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

if TYPE_CHECKING:
    from prefect_aws import S3Bucket

URL_ENV = "REMEDIATE_RESULTS_URL"
ENDPOINT_ENV = "REMEDIATE_RESULTS_S3_ENDPOINT_URL"
REGION_ENV = "REMEDIATE_RESULTS_S3_REGION"
BLOCK_ENV = "REMEDIATE_RESULTS_BLOCK"
DEFAULT_BLOCK = "remediate-results"


class ResultStorageError(Exception):
    pass


@dataclass(frozen=True)
class ResultStorageConfig:
    kind: Literal["s3", "filesystem"]
    location: str
    """The bucket (``s3``) or the absolute directory (``filesystem``)."""
    folder: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    block_name: str = DEFAULT_BLOCK

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ResultStorageConfig:
        url = env.get(URL_ENV, "").strip()
        if not url:
            raise ResultStorageError(f"{URL_ENV} is not set: give s3://bucket[/folder] or a path")
        block_name = env.get(BLOCK_ENV, "").strip() or DEFAULT_BLOCK
        endpoint = env.get(ENDPOINT_ENV, "").strip() or None
        region = env.get(REGION_ENV, "").strip() or None
        parts = urlsplit(url)
        if parts.scheme == "s3":
            if not parts.netloc:
                raise ResultStorageError(f"{URL_ENV}: {url!r} names no bucket")
            if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
                raise ResultStorageError(f"{ENDPOINT_ENV}: {endpoint!r} is not an http(s) URL")
            folder = parts.path.strip("/")
            return cls("s3", parts.netloc, folder, endpoint, region, block_name)
        if parts.scheme in ("", "file"):
            path = parts.path if parts.scheme == "file" else url
            if not Path(path).is_absolute():
                raise ResultStorageError(f"{URL_ENV}: {url!r} is not an absolute path")
            return cls("filesystem", str(Path(path)), block_name=block_name)
        raise ResultStorageError(
            f"{URL_ENV}: scheme {parts.scheme!r} is not supported (s3:// or a path)"
        )

    def block(self) -> LocalFileSystem | S3Bucket:
        if self.kind == "filesystem":
            return LocalFileSystem(basepath=self.location)
        from prefect_aws import AwsClientParameters, AwsCredentials, S3Bucket

        credentials = AwsCredentials(
            region_name=self.region,
            aws_client_parameters=AwsClientParameters(endpoint_url=self.endpoint_url),
        )
        return S3Bucket(
            bucket_name=self.location, bucket_folder=self.folder, credentials=credentials
        )


async def configure(config: ResultStorageConfig) -> str:
    """Save the block (overwriting one of the same name), check it can be written and read
    back, and make it the API's default result storage. Returns the block's slug."""
    storage = config.block()
    probe = ".remediate-probe"
    try:
        await storage.awrite_path(probe, b"ok")
        back = await storage.aread_path(probe)
    except Exception as exc:
        raise ResultStorageError(
            f"cannot write and read {config.kind} result storage {config.location!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if back != b"ok":
        raise ResultStorageError(f"result storage {config.location!r} read back other bytes")
    block_id = await storage.asave(config.block_name, overwrite=True)
    async with get_client() as client:
        await client.update_server_default_result_storage(block_id)
    return f"{storage.get_block_type_slug()}/{config.block_name}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="remediate result-storage",
        description=(
            f"Save the result storage block named by {BLOCK_ENV} from {URL_ENV} "
            f"({ENDPOINT_ENV}, {REGION_ENV}) and make it the Prefect API's default."
        ),
    )
    parser.parse_args(argv)
    from remediate.devstack.stack import client_api

    api = client_api()  # PREFECT_API_URL and its credential, else the local stack's
    if api is None:
        print("error: no Prefect API: run `make up` or set PREFECT_API_URL", file=sys.stderr)
        return 2
    try:
        config = ResultStorageConfig.from_env(os.environ)
        target = {PREFECT_API_URL: api.url, PREFECT_API_AUTH_STRING: api.credential}
        with temporary_settings(updates=target):
            slug = asyncio.run(configure(config))
    except ResultStorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"default result storage: {slug} ({config.kind} {config.location})")
    return 0
