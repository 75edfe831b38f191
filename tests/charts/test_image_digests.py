"""Every image the charts run is pulled by digest, its tag kept beside it.

`<name>:<tag>@sha256:<64 hex>`: the digest fixes the bytes, the tag tells a reader the
version. Found in every rendered object (containers, init containers, the Prometheus
object, the operator's image flags) of the saga chart with each values file and of the
observability umbrella. The exceptions are listed here with their reason; the
Dockerfiles' and the CI services' images are checked in tests/images/unit.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from chartkit import SERVICES

PINNED = re.compile(r"[^@\s]+:[^@/\s]+@sha256:[0-9a-f]{64}")
DIGEST = re.compile(r"(?P<name>[^@\s:]+)@sha256:[0-9a-f]{64}")
IMAGE_FLAG = re.compile(r"--(?:prometheus-config-reloader|[a-z-]*-image)=(\S+)")
# Their charts turn image.digest into <repository>@<digest>, dropping the tag; the tag
# (the chart's appVersion) is written next to the digest in charts/observability/values.yaml.
DIGEST_WITHOUT_TAG = {"otel/opentelemetry-collector-contrib", "jaegertracing/jaeger"}
# No digest of these exact tags was found in two unrelated public sources (the rule for
# every digest here), so they stay on their tag rather than on an unverified digest.
NOT_PINNED = {
    # kube-prometheus-stack's Grafana sidecars (dashboards, data sources).
    "quay.io/kiwigrid/k8s-sidecar:2.10.1",
    # The Prometheus Operator's admission webhook certificate Jobs (install and upgrade).
    "ghcr.io/jkroepke/kube-webhook-certgen:1.8.7",
}
# The saga's own images: built by `make images` and loaded into kind, so there is no
# digest to know before they are pushed; global.image.digests pins them then.
OWN = re.compile(rf"saga/({'|'.join(SERVICES)}):[^@\s]+")


def image_references(node: Any) -> set[str]:
    """Every `image:` value and image flag (--...-image=, --prometheus-config-reloader=)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                found.add(value)
            else:
                found |= image_references(value)
    elif isinstance(node, list):
        for item in node:
            found |= image_references(item)
    elif isinstance(node, str) and (flag := IMAGE_FLAG.fullmatch(node)):
        found.add(flag[1])
    return found


def untagged(reference: str) -> str | None:
    """The name of a <name>@<digest> reference (no tag), else None."""
    match = DIGEST.fullmatch(reference)
    return match["name"] if match else None


def unpinned(references: set[str]) -> set[str]:
    """The references that carry no digest and are not an explained exception."""
    return {
        ref
        for ref in references
        if not PINNED.fullmatch(ref)
        and untagged(ref) not in DIGEST_WITHOUT_TAG
        and ref not in NOT_PINNED
        and not OWN.fullmatch(ref)
    }


def test_every_image_the_saga_chart_runs_is_pinned(
    values_name: str, rendered: dict[str, Any]
) -> None:
    assert unpinned(image_references(rendered[values_name].objects)) == set()


def test_every_image_of_the_observability_stack_is_pinned(stack: Any) -> None:
    references = image_references(stack.objects)
    assert unpinned(references) == set()
    # The exceptions are still there: an exception pinned since must leave the list.
    assert references >= NOT_PINNED
    assert {untagged(ref) for ref in references} - {None} == DIGEST_WITHOUT_TAG


def test_the_servers_images_keep_their_tag_next_to_the_digest(rendered: dict[str, Any]) -> None:
    references = image_references(rendered["default"].objects)
    assert {ref.split("@")[0] for ref in references if not OWN.fullmatch(ref)} == {
        "postgres:16",
        "redis:7",
    }


def test_a_pushed_service_image_is_pulled_by_its_digest(render_values: Any) -> None:
    digest = "sha256:" + "ab" * 32
    render = render_values({"global": {"image": {"tag": "1.2.3", "digests": {"booking": digest}}}})
    assert render.container("booking")["image"] == f"saga/booking:1.2.3@{digest}"
    assert render.get("Pod", "saga-test")["spec"]["containers"][0]["image"] == (
        f"saga/booking:1.2.3@{digest}"
    )
    assert render.container("payment")["image"] == "saga/payment:1.2.3"


@pytest.mark.parametrize("reference", ["postgres:16", "saga/booking:0.1.0@sha256:abc"])
def test_the_check_catches_a_reference_without_a_full_digest(reference: str) -> None:
    assert unpinned({reference}) == {reference}
