"""Regenerate ``api.github.com.pruned.json`` from GitHub's published OpenAPI description.

The description comes from the npm package ``@octokit/openapi`` (file
``generated/api.github.com.json``). Only the operations the stand-in serves are kept,
together with every ``$ref`` they reach; inline and referenced ``examples`` are dropped
because validation never reads them.

    python tests/github_standin/regenerate_spec.py [--version 23.0.2]

Requires ``npm`` on PATH and access to the npm registry.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

NPM_PACKAGE = "@octokit/openapi"
NPM_VERSION = "23.0.2"
MEMBER = "package/generated/api.github.com.json"
HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "api.github.com.pruned.json"

OPERATIONS: dict[str, tuple[str, ...]] = {
    "/repos/{owner}/{repo}": ("get",),
    "/repos/{owner}/{repo}/issues": ("get", "post"),
    "/repos/{owner}/{repo}/issues/{issue_number}": ("get", "patch"),
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": ("get", "post"),
    "/repos/{owner}/{repo}/issues/{issue_number}/labels": ("get", "post"),
    "/repos/{owner}/{repo}/labels": ("get", "post"),
    "/repos/{owner}/{repo}/labels/{name}": ("get",),
    "/repos/{owner}/{repo}/pulls": ("get", "post"),
    "/repos/{owner}/{repo}/pulls/{pull_number}": ("get",),
    "/repos/{owner}/{repo}/branches/{branch}": ("get",),
    "/repos/{owner}/{repo}/deployments": ("get",),
    "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses": ("get",),
    "/repos/{owner}/{repo}/collaborators/{username}/permission": ("get",),
    "/user": ("get",),
}

DROPPED_KEYS = {"examples", "x-github"}


def download(version: str, workdir: Path) -> dict[str, Any]:
    subprocess.run(
        ["npm", "pack", f"{NPM_PACKAGE}@{version}", "--silent"],
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (tarball,) = workdir.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{tarball.name} has no {MEMBER}")
        data: dict[str, Any] = json.load(member)
    return data


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in DROPPED_KEYS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def prune(spec: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in OPERATIONS.items():
        item = spec["paths"][path]
        kept = {m: _strip(item[m]) for m in methods}
        if "parameters" in item:
            kept["parameters"] = _strip(item["parameters"])
        paths[path] = kept

    components: dict[str, dict[str, Any]] = {}
    pending = _refs(paths)
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        prefix, kind, name = ref.split("/", 2)
        if prefix != "#" or kind != "components":
            raise SystemExit(f"unexpected $ref {ref}")
        section, key = name.split("/", 1)
        value = _strip(spec["components"][section][key])
        components.setdefault(section, {})[key] = value
        pending |= _refs(value) - seen

    return {
        "openapi": spec["openapi"],
        "info": {
            **{k: spec["info"][k] for k in ("title", "version") if k in spec["info"]},
            "description": f"Pruned from npm {NPM_PACKAGE}; operations used by remediate only.",
        },
        "servers": spec["servers"],
        "paths": paths,
        "components": {
            section: dict(sorted(v.items())) for section, v in sorted(components.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=NPM_VERSION, help="npm version of the description")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        spec = download(args.version, Path(workdir))
    pruned = prune(spec)
    pruned["info"]["x-source"] = f"{NPM_PACKAGE}@{args.version}"
    args.output.write_text(json.dumps(pruned, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    size = args.output.stat().st_size
    print(f"{args.output}: {len(pruned['paths'])} paths, {size} bytes")


if __name__ == "__main__":
    main()
