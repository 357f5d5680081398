from __future__ import annotations

from pathlib import Path

import pytest

from remediate.devstack.runner import module_entrypoint, read_deployments

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("flows/remediate_alert.py:remediate_alert", "flows.remediate_alert:remediate_alert"),
        ("./flows/report.py:remediation_report", "flows.report:remediation_report"),
        ("flows.remediate_alert:remediate_alert", "flows.remediate_alert:remediate_alert"),
    ],
)
def test_entrypoints_become_module_paths(given: str, expected: str) -> None:
    assert module_entrypoint(given) == expected


def test_every_declared_flow_imports_by_module_path() -> None:
    import importlib

    for spec in read_deployments(PREFECT_YAML):
        module, _, function = module_entrypoint(spec.entrypoint).partition(":")
        assert callable(getattr(importlib.import_module(module), function))


def test_only_serves_the_named_deployments() -> None:
    from remediate.devstack.runner import runner_deployments

    assert [d.name for d in runner_deployments(PREFECT_YAML, ["remediate-alert"])] == [
        "remediate-alert"
    ]
    with pytest.raises(ValueError, match="no deployment named nope"):
        runner_deployments(PREFECT_YAML, ["nope"])
