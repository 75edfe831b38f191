"""Every rendered object is valid Kubernetes for several minor versions.

The API objects go through kubernetes-validate in strict mode (unknown fields are
errors). Its bundled schemas have no CRDs, so the Prometheus Operator's ServiceMonitor
and PrometheusRule are skipped there and checked below against the CRDs that
kube-prometheus-stack (charts/observability) installs, with unknown fields refused.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from chartkit import require
from umbrellakit import crd_schemas

jsonschema = require("jsonschema", "jsonschema")
kubernetes_validate = require("kubernetes_validate", "kubernetes-validate")
require("kubernetes_validate.utils", "kubernetes-validate")

# 1.35: the node image of k8s/kind.yaml.
KUBERNETES_VERSIONS = ("1.29.0", "1.30.0", "1.31.0", "1.33.0", "1.35.0")
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.fixture(scope="module")
def crds(helm: ModuleType) -> dict[tuple[str, str], dict[str, Any]]:
    """The CRD schemas kube-prometheus-stack installs (charts/observability), made strict."""
    return crd_schemas(helm)


@pytest.fixture(scope="module", autouse=True)
def _parse_each_schema_once() -> Iterator[None]:
    # kubernetes-validate re-reads its (large) schema files for every object: cache them
    # for this module, the validation itself is unchanged.
    original = kubernetes_validate.utils.schema_contents
    kubernetes_validate.utils.schema_contents = functools.cache(original)
    yield
    kubernetes_validate.utils.schema_contents = original


def invalid(obj: dict[str, Any], version: str) -> str | None:
    """Why kubernetes-validate --strict refuses the object, or None."""
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = "/".join(str(part) for part in error.path)
        return f"{obj['kind']}/{obj['metadata']['name']} at {where}: {error.message}"
    return None


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_kubernetes(
    values_name: str, version: str, rendered: dict[str, Any]
) -> None:
    objects = [obj for obj in rendered[values_name].objects if obj["kind"] not in CRD_KINDS]
    assert objects
    errors = [error for obj in objects if (error := invalid(obj, version))]
    assert errors == []


def test_the_validator_refuses_an_unknown_field(rendered: dict[str, Any]) -> None:
    # Proof that strict mode is on: a misspelt field is an error, not ignored.
    deployment = copy.deepcopy(rendered["default"].deployment("booking"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert invalid(deployment, KUBERNETES_VERSIONS[0]) is not None


def test_bundled_schemas_cover_the_versions_we_claim() -> None:
    available = set(kubernetes_validate.utils.all_versions())
    assert set(KUBERNETES_VERSIONS) <= available


def test_prometheus_operator_objects_follow_their_crd(
    values_name: str, rendered: dict[str, Any], crds: dict[tuple[str, str], dict[str, Any]]
) -> None:
    objects = [obj for obj in rendered[values_name].objects if obj["kind"] in CRD_KINDS]
    if values_name == "production":
        assert {obj["kind"] for obj in objects} == CRD_KINDS
    errors = [
        f"{obj['kind']}/{obj['metadata']['name']}: {error.message}"
        for obj in objects
        for error in jsonschema.Draft7Validator(crds[(obj["apiVersion"], obj["kind"])]).iter_errors(
            obj
        )
    ]
    assert errors == []


def test_prometheus_rule_groups_have_unique_names(rendered: dict[str, Any]) -> None:
    rule = rendered["production"].get("PrometheusRule", "saga")
    names = [group["name"] for group in rule["spec"]["groups"]]
    assert len(names) == len(set(names)), names
