"""The evidence and diagnosis parts of the catalog: the example loads, mistakes are named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from remediate.catalog import CatalogError, load_catalog
from remediate.evidence.logs import build_command

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "catalog-evidence.yaml"


def test_the_example_catalog_loads_and_builds_quoted_commands() -> None:
    catalog = load_catalog(EXAMPLE)
    service = catalog.service("shop-api")
    assert service is not None
    assert [h.name for h in service.hosts] == ["web-1", "web-2"]
    commands = [build_command(s, catalog.evidence) for s in service.logs]
    assert commands == [
        "docker logs --tail 300 --since 30m shop-api",
        "journalctl -u nginx.service --since=-60min -n 100 --no-pager",
        "tail -n 200 -- /var/log/shop/app.log",
        "df -h /var/lib/docker",
    ]
    assert [d.name for d in service.dependencies] == ["postgres", "redis"]
    assert service.health[0].json_checks[0].describe() == "status == 'ok'"


def broken(tmp_path: Path, change: dict[str, Any]) -> str:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["services"][0].update(change)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    return str(error.value)


def test_a_host_without_a_host_key_source_is_named(tmp_path: Path) -> None:
    host = {"name": "web-9", "address": "web-9", "user": "ops", "private_key": "/k"}
    message = broken(tmp_path, {"hosts": [host]})
    assert "services.0.hosts.0" in message
    assert "host web-9: set exactly one of known_hosts or host_key" in message


def test_a_log_on_an_unknown_host_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    logs = data["services"][0]["logs"] + [
        {"name": "x", "kind": "file", "path": "/x", "hosts": ["web-7"]}
    ]
    message = broken(tmp_path, {"logs": logs})
    assert "service shop-api: log x: unknown host(s) web-7" in message


def test_an_unknown_custom_command_is_named(tmp_path: Path) -> None:
    message = broken(tmp_path, {"logs": [{"name": "y", "kind": "custom", "command": "nope"}]})
    assert "log y: command 'nope' is not in evidence.commands" in message


def test_a_relative_log_path_is_named(tmp_path: Path) -> None:
    message = broken(tmp_path, {"logs": [{"name": "z", "kind": "file", "path": "app.log"}]})
    assert "services.0.logs.0.path" in message
    assert "path must be absolute" in message
