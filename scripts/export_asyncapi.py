"""Write each service's AsyncAPI document to docs/asyncapi/<service>.json (`make asyncapi`).

The same documents are served live at http://<service>/asyncapi; a test checks
that the committed copies match the code.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from sagakit.asyncapi import document as asyncapi_document

SERVICES = ("booking", "manager", "billing", "payment", "invoice")
OUT = Path(__file__).resolve().parents[1] / "docs" / "asyncapi"


def document(service: str) -> dict[str, object]:
    """The AsyncAPI 3 document of one service with default settings (no I/O)."""
    bootstrap = importlib.import_module(f"{service}.bootstrap")
    config = importlib.import_module(f"{service}.config")
    settings = config.Settings(redis_url="redis://redis:6379/0", consumer_name=f"{service}-1")
    runtime = bootstrap.bootstrap(settings)
    version = importlib.import_module(service).__version__
    return asyncapi_document(runtime.bus.documented, f"{service.capitalize()} service", version)


def render(service: str) -> str:
    """The document as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document(service), indent=2, sort_keys=True) + "\n"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        (OUT / f"{service}.json").write_text(render(service))
        sys.stdout.write(f"wrote docs/asyncapi/{service}.json\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
