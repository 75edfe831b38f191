"""The choreography as code: who publishes and who listens, and the published AsyncAPI documents."""

import importlib
import importlib.util
import json
from pathlib import Path

import pytest

from sagakit import choreography
from sagakit.events import EventType as E

ROOT = Path(__file__).resolve().parents[2]

# The table in the README is sagakit.choreography: the owner checks, the Redis ACLs and the
# chart's key wiring come from it. Here it is checked against the services' own wiring.
CHOREOGRAPHY = {
    service: (set(role.publishes), set(role.consumes))
    for service, role in choreography.CHOREOGRAPHY.items()
}


def test_the_choreography_is_the_saga_of_the_readme() -> None:
    readme = {
        "booking": ({E.CREATED_BOOKING_EVENT}, set(E)),
        "manager": (
            {E.APPROVED_BOOKING_EVENT, E.REJECTED_BOOKING_EVENT},
            {E.CREATED_BOOKING_EVENT},
        ),
        "billing": (
            {E.BILLED_BOOKING_EVENT},
            {
                E.APPROVED_BOOKING_EVENT,
                E.PAID_BOOKING_EVENT,
                E.INSUFFICIENT_FUND_EVENT,
                E.PAYMENT_EXPIRED_EVENT,
            },
        ),
        "payment": (
            {E.PAID_BOOKING_EVENT, E.INSUFFICIENT_FUND_EVENT, E.PAYMENT_EXPIRED_EVENT},
            {E.BILLED_BOOKING_EVENT},
        ),
        "invoice": ({E.INVOICE_GENERATED_EVENT}, {E.PAID_BOOKING_EVENT}),
    }
    assert readme == CHOREOGRAPHY


@pytest.mark.parametrize("service", sorted(CHOREOGRAPHY))
def test_each_services_spec_is_its_part_of_the_choreography(service: str) -> None:
    spec = importlib.import_module(f"{service}.bootstrap").bootstrap().spec  # no I/O
    assert spec.name == service
    assert (set(spec.publishes), set(spec.handlers)) == CHOREOGRAPHY[service]


def exporter():
    spec = importlib.util.spec_from_file_location(
        "export_asyncapi", ROOT / "scripts" / "export_asyncapi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("service", sorted(CHOREOGRAPHY))
def test_each_service_publishes_and_listens_to_what_the_choreography_says(service: str) -> None:
    doc = exporter().document(service)
    published, consumed = set(), set()
    for operation in doc["operations"].values():
        event = E(operation["channel"]["$ref"].rsplit(":", 1)[-1])
        (published if operation["action"] == "send" else consumed).add(event)
    assert (published, consumed) == CHOREOGRAPHY[service]


def test_every_event_has_one_producer_and_at_least_one_listener() -> None:
    for event in E:
        producers = [s for s, (pub, _) in CHOREOGRAPHY.items() if event in pub]
        listeners = [s for s, (pub, sub) in CHOREOGRAPHY.items() if event in sub - pub]
        assert len(producers) == 1, event
        assert listeners, event


@pytest.mark.parametrize("service", sorted(CHOREOGRAPHY))
def test_committed_asyncapi_documents_match_the_code(service: str) -> None:
    committed = (ROOT / "docs" / "asyncapi" / f"{service}.json").read_text()
    assert json.loads(committed) == json.loads(exporter().render(service)), (
        "docs/asyncapi is stale: run `make asyncapi`"
    )
