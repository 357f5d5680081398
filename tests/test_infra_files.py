"""infra/ repeats the scale topology: the same commands and settings in the Compose file,
the Helm values, the Kubernetes manifests and the container scripts, and no secret value
in any of them. (Their schemas are checked by `make lint-infra`.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import prefect
import pytest
import yaml

from remediate.devstack.stack import SECRET_NAMES
from remediate.runs.auth import SERVER_AUTH_ENV
from tests.support.scale_topology_expected import EXPECTED_SCALE_TOPOLOGY, Role

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
SECRETS = {
    *SECRET_NAMES,
    SERVER_AUTH_ENV,
    "REMEDIATE_OUTBOX_URL",
    "POSTGRES_PASSWORD",
    "PREFECT_API_DATABASE_PASSWORD",
    "ANTHROPIC_API_KEY",
    "GITHUB_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}
COMPOSE_ROLES = {
    "prefect-migrate": "migrate",
    "prefect-api": "api",
    "prefect-services": "services",
    "gateway": "gateway",
}


def load(path: str) -> Any:
    return yaml.safe_load((INFRA / path).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load("compose/compose.yaml")
    return document


def given(service: dict[str, Any]) -> dict[str, str]:
    """The service's settings: its environment, and its secrets by variable name."""
    env = {str(k): str(v) for k, v in (service.get("environment") or {}).items()}
    return env | {str(name): "<secret>" for name in service.get("secrets", [])}


def check_role(role: Role, argv: list[str], settings: dict[str, str], where: str) -> None:
    assert tuple(argv[: len(role.argv)]) == role.argv, f"{where}: {argv}"
    for name, value in role.env.items():
        assert settings.get(name) == value, f"{where}: {name}={settings.get(name)!r}"
    assert role.env_names <= settings.keys(), f"{where}: missing {role.env_names - settings.keys()}"


def worker_script() -> tuple[list[str], list[str]]:
    """The warm parent's and the worker's commands in infra/docker/worker.sh."""
    lines = (INFRA / "docker" / "worker.sh").read_text(encoding="utf-8").splitlines()
    [parent] = [shlex.split(line) for line in lines if "remediate.warm.parent" in line]
    [worker] = [shlex.split(line)[1:] for line in lines if line.startswith("exec prefect")]
    return parent[: parent.index("||")] if "||" in parent else parent, worker


def test_compose_services_run_the_scale_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, role in COMPOSE_ROLES.items():
        service = services[name]
        check_role(EXPECTED_SCALE_TOPOLOGY[role], service["command"], given(service), name)
    assert {name: services[name]["deploy"]["replicas"] for name in ("prefect-api", "worker")} == {
        "prefect-api": 2,
        "worker": 2,
    }
    assert services["gateway"]["deploy"]["replicas"] == 2
    worker = services["worker"]
    assert worker["command"] == ["/opt/remediate/infra/docker/worker.sh"]
    parent, command = worker_script()
    check_role(EXPECTED_SCALE_TOPOLOGY["warm_parent"], parent, {}, "worker.sh parent")
    check_role(EXPECTED_SCALE_TOPOLOGY["worker"], command, given(worker), "compose worker")
    socket = Path(given(worker)["REMEDIATE_WARM_SOCKET"])
    assert str(socket.parent) in worker["tmpfs"]


def test_compose_keeps_every_secret_in_its_secret_store(compose: dict[str, Any]) -> None:
    defined = set(compose["secrets"])
    for name, service in compose["services"].items():
        literal = SECRETS & set(service.get("environment") or {})
        assert not literal, f"{name} has secret values in its environment: {literal}"
        assert set(service.get("secrets", [])) <= defined, name
    for secret in compose["secrets"].values():
        assert (INFRA / "compose" / secret["file"]).parent == INFRA / "compose" / "secrets"
    ignored = (INFRA / "compose" / "secrets" / ".gitignore").read_text(encoding="utf-8")
    assert ignored.splitlines()[0] == "*"


def test_helm_values_run_the_scale_commands() -> None:
    server = load("helm/prefect-server.values.yaml")
    expected = EXPECTED_SCALE_TOPOLOGY
    assert tuple(server["migrations"]["command"].split()) == expected["migrate"].argv
    assert server["server"]["replicaCount"] == 2
    background = server["backgroundServices"]
    # The chart adds --no-services and Prefect's Redis settings from these values.
    assert background["runAsSeparateDeployment"] is True
    messaging = background["messaging"]
    assert messaging["broker"] == expected["api"].env["PREFECT_MESSAGING_BROKER"]
    assert messaging["cache"] == expected["api"].env["PREFECT_MESSAGING_CACHE"]
    assert messaging["docket"]["existingSecret"]
    server_env = {e["name"]: e["value"] for e in server["server"]["env"]}
    assert server_env["PREFECT_API_DATABASE_MIGRATE_ON_START"] == "false"
    assert server["server"]["basicAuth"] == {"enabled": True, "existingSecret": "prefect-api-auth"}

    worker = load("helm/prefect-worker.values.yaml")["worker"]
    config = worker["config"]
    chart_argv = ["prefect", "worker", "start", "--pool", config["workPool"]]
    chart_argv += ["--type", config["type"], "--limit", str(config["limit"])]
    chart_argv += ["--prefetch-seconds", str(config["prefetchSeconds"])]
    env = {e["name"]: e["value"] for e in worker["extraEnvVars"]}
    env |= {"PREFECT_API_URL": worker["selfHostedServerApiConfig"]["apiUrl"]}
    env |= {"PREFECT_API_AUTH_STRING": "<secret>"}
    check_role(expected["worker"], chart_argv, env, "helm worker config")
    assert worker["args"] == ["/opt/remediate/infra/docker/worker.sh"]
    assert worker["selfHostedServerApiConfig"]["basicAuth"] == {
        "enabled": True,
        "existingSecret": "prefect-api-auth",
    }
    mounts = {m["name"]: m["mountPath"] for m in worker["extraVolumeMounts"]}
    assert str(Path(env["REMEDIATE_WARM_SOCKET"]).parent) == mounts["warm"]


def test_gateway_manifest_runs_the_gateway_with_probes_and_secret_refs() -> None:
    documents = list(
        yaml.safe_load_all((INFRA / "kubernetes" / "gateway.yaml").read_text(encoding="utf-8"))
    )
    [deployment] = [d for d in documents if d["kind"] == "Deployment"]
    [service] = [d for d in documents if d["kind"] == "Service"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert not [n for n, e in env.items() if n in SECRETS and "value" in e]
    settings = {name: "<given>" for name in env}
    settings |= {"REMEDIATE_OUTBOX_URL": "<secret>"}  # from the remediate-gateway Secret
    assert container["envFrom"] == [{"secretRef": {"name": "remediate-gateway"}}]
    check_role(EXPECTED_SCALE_TOPOLOGY["gateway"], container["args"], settings, "k8s gateway")
    assert deployment["spec"]["replicas"] == 2
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "tcpSocket" in container["livenessProbe"]
    port = int(container["args"][container["args"].index("--port") + 1])
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_image_is_the_official_prefect_image_of_the_pinned_version() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text(encoding="utf-8")
    [base] = re.findall(r"^FROM (\S+)$", dockerfile, flags=re.MULTILINE)
    pinned = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["prefect-version"]
    assert base == f"prefecthq/prefect:{pinned}-python3.12"
    assert pinned == prefect.__version__
    assert not re.search(r"^(ENV|ARG)\s+\S*(KEY|TOKEN|SECRET|PASSWORD)", dockerfile, re.MULTILINE)
