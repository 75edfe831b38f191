"""The AsyncAPI 3 document of a service, with typed payloads for what it consumes too.

FastStream documents publishers from their declared schema; subscribers get
their schema from the handler signature, and ours read the raw message (so a
malformed one can be dead-lettered instead of failing validation), so their
payload is filled in here from the contract.
"""

from __future__ import annotations

import json
from typing import Any

from faststream.redis import RedisBroker
from faststream.specification import AsyncAPI
from faststream.specification.asyncapi.site import get_asyncapi_html

from sagakit.events import EventType, envelope_model

REF = "#/components/schemas/{model}"


def document(broker: RedisBroker, title: str, version: str) -> dict[str, Any]:
    """Build the JSON document of one service's broker."""
    spec = AsyncAPI(broker, title=title, version=version, schema_version="3.0.0")
    doc: dict[str, Any] = spec.to_specification().to_jsonable()
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name, message in doc["components"].get("messages", {}).items():
        event_type = _event_type(name)
        if event_type is None or not name.endswith(":SubscribeMessage"):
            continue
        model = envelope_model(event_type)
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        replaced = message.get("payload", {}).get("$ref", "")  # the raw body's schema
        schemas.pop(replaced.removeprefix(REF.format(model="")), None)
        message["payload"] = {"$ref": REF.format(model=model.__name__)}
    schemas.pop("EmptyPayload", None)
    return doc


def _event_type(message_name: str) -> EventType | None:
    for event_type in EventType:
        if f":{event_type.value}:" in message_name:
            return event_type
    return None


class _Rendered:
    """What FastStream's page template reads from a specification."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.title = str(doc["info"]["title"])

    def to_json(self) -> str:
        return json.dumps(self.doc)


def html(doc: dict[str, Any]) -> str:
    """The document rendered by the AsyncAPI web component (FastStream's page)."""
    return get_asyncapi_html(_Rendered(doc), try_it_out_path=None)  # type: ignore[arg-type]
