"""Every rendered object is valid Kubernetes for several minor versions.

The API objects go through kubernetes-validate in strict mode (unknown fields are
errors). Its bundled schemas have no CRDs, so the Prometheus Operator's ServiceMonitor
and PrometheusRule are skipped there and checked below against the parts of their CRD
schemas (monitoring.coreos.com/v1) the chart uses.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import pytest
from chartkit import require

jsonschema = require("jsonschema", "jsonschema")
kubernetes_validate = require("kubernetes_validate", "kubernetes-validate")
require("kubernetes_validate.utils", "kubernetes-validate")

KUBERNETES_VERSIONS = ("1.29.0", "1.30.0", "1.31.0", "1.33.0")
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
DURATION = {"type": "string", "pattern": "^(0|([0-9]+(ms|s|m|h|d|w|y))+)$"}
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = {
    "type": "object",
    "required": ["name", "labels"],
    "properties": {"name": {"type": "string"}, "labels": LABELS},
}
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": LABELS},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": DURATION,
                            "honorLabels": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}
RULE = {
    "type": "object",
    "required": ["expr"],
    "additionalProperties": False,
    "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
    "properties": {
        "record": {"type": "string", "pattern": "^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "alert": {"type": "string", "minLength": 1},
        "expr": {"type": "string", "minLength": 1},
        "for": DURATION,
        "labels": LABELS,
        "annotations": LABELS,
    },
}
PROMETHEUS_RULE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["groups"],
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": DURATION,
                            "rules": {"type": "array", "minItems": 1, "items": RULE},
                        },
                    },
                },
            },
        },
    },
}
CRD_SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR, "PrometheusRule": PROMETHEUS_RULE}


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


@pytest.mark.parametrize("kind", sorted(CRD_KINDS))
def test_prometheus_operator_objects_follow_their_crd(kind: str, rendered: dict[str, Any]) -> None:
    objects = rendered["production"].of_kind(kind)
    assert len(objects) == 1
    jsonschema.validate(objects[0], CRD_SCHEMAS[kind])


def test_prometheus_rule_groups_have_unique_names(rendered: dict[str, Any]) -> None:
    rule = rendered["production"].get("PrometheusRule", "saga")
    names = [group["name"] for group in rule["spec"]["groups"]]
    assert len(names) == len(set(names)), names
