"""Each values file renders exactly as reviewed: tests/charts/golden/<values>.yaml.

After an intended change, regenerate them and review the diff:

    UPDATE_GOLDEN=1 uv run pytest tests/charts/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import yaml

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN", "") not in ("", "0")


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (scripts, dashboards, configs) as readable literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


GENERATED = "<generated on install, then kept>"


def _stable(doc: dict[str, Any]) -> dict[str, Any]:
    # The dev key (auth.mode=dev) is new in every offline render, like no password is
    # (the tests fix those): only its place is compared.
    if doc.get("kind") == "Secret" and "dev-signing-key.pem" in doc.get("data", {}):
        doc["data"]["dev-signing-key.pem"] = GENERATED
    return doc


def normalized(render: Any) -> str:
    """The render as one stable text: objects by template in order, then the notes."""
    parts = []
    for path in sorted(render.manifests):
        if path.endswith("NOTES.txt"):
            continue
        for doc in map(_stable, yaml.safe_load_all(render.manifests[path]) or []):
            if doc:
                body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100)
                parts.append(f"# Source: {path}\n{body}")
    notes = "".join(f"# {line}".rstrip() + "\n" for line in render.notes.strip().splitlines())
    return "---\n".join(parts) + "---\n# NOTES.txt\n" + notes


def test_render_matches_golden_file(values_name: str, rendered: dict[str, Any]) -> None:
    golden = GOLDEN / f"{values_name}.yaml"
    actual = normalized(rendered[values_name])
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual)
    assert golden.exists(), f"{golden} is missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    expected = golden.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            f"golden/{golden.name}",
            "render",
            n=2,
        )
    )
    assert not diff, (
        f"the {values_name} render changed; if intended, run UPDATE_GOLDEN=1 "
        f"uv run pytest tests/charts/test_golden.py and review the diff:\n{diff[:6000]}"
    )
