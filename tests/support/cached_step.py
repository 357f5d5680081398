"""A flow with one cached step, run as a module: ``python -m tests.support.cached_step KEY
FILE`` appends a line to FILE only when no result for KEY is found in the default result
storage."""

from __future__ import annotations

import sys
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import CachePolicy


def _key(context: object, parameters: dict[str, str]) -> str:
    return parameters["key"]


@task(cache_policy=CachePolicy.from_cache_key_fn(_key))
def step(key: str, counter: str) -> str:
    with open(counter, "a", encoding="utf-8") as out:
        out.write(f"{key}\n")
    return f"result of {key}"


@flow
def cached(key: str, counter: str) -> str:
    return step(key, counter)


if __name__ == "__main__":
    key, counter = sys.argv[1:3]
    print(cached(key, str(Path(counter))))
