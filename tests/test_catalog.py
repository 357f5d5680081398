from __future__ import annotations

from pathlib import Path

import pytest

from remediate.alerts import Severity
from remediate.catalog import CatalogError, load_catalog

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    return path


def test_default_catalog_is_valid() -> None:
    catalog = load_catalog(ROOT / "remediate.yaml")
    assert catalog.service_for_check("S1-probes") is catalog.service("demo")
    assert catalog.service_for_check("demo-latency") is catalog.service("demo")
    assert catalog.service_for_check("unknown") is None
    assert catalog.policy_for(Severity.INFO).open_issue is False


def test_exact_check_id_wins_over_a_pattern(tmp_path: Path) -> None:
    catalog = load_catalog(
        write(
            tmp_path,
            "services:\n"
            "  - {name: broad, checks: ['S*']}\n"
            "  - {name: exact, checks: ['S1-probes']}\n",
        )
    )
    assert catalog.service_for_check("S1-probes").name == "exact"  # type: ignore[union-attr]
    assert catalog.service_for_check("S2-x").name == "broad"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("services:\n  - name: api\n    health: [{url: 'nope'}]\n", "services.0.health.0.url"),
        ("services:\n  - name: API\n", "services.0.name"),
        ("services:\n  - {name: a}\n  - {name: a}\n", "appears twice"),
        ("verification: {attempts: 0}\n", "verification.attempts"),
        ("policy: {urgent: {}}\n", "policy.urgent"),
        ("servces: []\n", "servces"),
        ("- a\n- b\n", "expected a mapping"),
        ("services: [\n", "not valid YAML"),
    ],
)
def test_invalid_catalog_names_file_and_key_path(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "absent.yaml")


def test_empty_file_is_an_empty_catalog(tmp_path: Path) -> None:
    assert load_catalog(write(tmp_path, "")).services == []
