"""The deployment recipes in deploy/, checked without a container engine or a cluster: the Dockerfile parses
and its commands are a real `apigate serve` of this package; the systemd unit starts that command; the
Kubernetes manifest validates against Kubernetes' own schemas (kubernetes-validate ships them, offline)."""

from __future__ import annotations

import configparser
import json
import shlex
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from dockerfile_parse import DockerfileParser

from apigate.cli import _parser

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"


def instructions() -> list[dict[str, Any]]:
    parsed = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    return [step for step in parsed.structure if step["instruction"] != "COMMENT"]


def extras() -> set[str]:
    return set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def test_the_dockerfile_builds_this_package_with_the_cluster_extras() -> None:
    steps = instructions()
    kinds = [step["instruction"] for step in steps]
    assert kinds[0] == "FROM" and steps[0]["value"].startswith("python:3.1")
    for step in steps:
        if step["instruction"] == "COPY":
            *sources, _target = shlex.split(step["value"])
            assert all((REPO / source).exists() for source in sources), step["value"]
    run = " ".join(step["value"] for step in steps if step["instruction"] == "RUN")
    installed = shlex.split(run)[shlex.split(run).index("install") + 1]
    package, _, wanted = installed.partition("[")
    assert package == "." and set(wanted.rstrip("]").split(",")) <= extras() and "postgres" in wanted


def test_the_dockerfile_runs_apigate_serve_on_every_interface() -> None:
    steps = {step["instruction"]: step["value"] for step in instructions()}
    entrypoint = json.loads(steps["ENTRYPOINT"]) + json.loads(steps["CMD"])
    assert entrypoint[0] == "apigate"
    args = _parser().parse_args([*entrypoint[1:], "--store", "postgresql://db/apigate"])
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", int(steps["EXPOSE"]))
    assert str(args.data_dir) == json.loads(steps["VOLUME"])[0]
    assert "/_apigate/health" in steps["HEALTHCHECK"]


def test_the_systemd_unit_starts_apigate_serve_with_a_store_and_redis() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "apigate.service")
    service = unit["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/apigate")
    values = {
        key: value
        for line in (DEPLOY / "apigate.service").read_text().splitlines()
        if line.startswith("Environment=")
        for key, value in [line.removeprefix("Environment=").split("=", 1)]
    }
    expanded = [values.get(part[2:-1], part) if part.startswith("${") else part for part in command[1:]]
    args = _parser().parse_args(expanded)
    assert (
        args.command == "serve"
        and args.store.startswith("postgresql://")
        and args.redis.startswith("redis://")
    )
    assert service["Restart"] == "on-failure" and unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_kubernetes_manifest_is_valid_for_kubernetes() -> None:
    documents = [doc for doc in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if doc]
    assert {doc["kind"] for doc in documents} == {"Secret", "Deployment", "Service", "PodDisruptionBudget"}
    version = kubernetes_validate.latest_version()
    for doc in documents:
        kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError when invalid
    deployment = next(doc for doc in documents if doc["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = _parser().parse_args(["serve", *container["args"]])
    assert args.store == "$(APIGATE_STORE)" and deployment["spec"]["replicas"] >= 3
    assert container["readinessProbe"]["httpGet"]["path"] == "/_apigate/health"


def test_the_validator_does_reject_a_broken_manifest() -> None:
    """The check above can fail: a misspelt field is refused."""
    broken = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    try:
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.ValidationError:
        return
    raise AssertionError("kubernetes-validate accepted an unknown field")
