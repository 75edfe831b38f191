"""The fault table: Markdown for people, JSON for machines (beside bench/results/latest.*)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = (
    ("fault", "fault"),
    ("transport", "transport"),
    ("sagas started", "sagas_started"),
    ("sagas terminal", "sagas_terminal"),
    ("stuck", "stuck"),
    ("duplicate effects", "duplicate_effects"),
    ("lost effects", "lost_effects"),
    ("wrong credit", "wrong_credit"),
    ("5xx other than 503", "5xx_other_than_503"),
    ("503 (Retry-After, JSON)", "proper_503"),
    ("time to recover (s)", "time_to_recover_s"),
)


def verdict(row: dict[str, Any]) -> str:
    """pass, or FAIL with every invariant the row broke."""
    if row["passed"]:
        return "pass"
    return "FAIL: " + "; ".join(row["failures"])


def table(results: dict[str, Any]) -> str:
    """One line per fault and transport, and its verdict."""
    names = [name for name, _ in COLUMNS] + ["verdict"]
    lines = ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]
    for row in results["rows"]:
        cells = [str(row.get(key, "-")) for _, key in COLUMNS] + [verdict(row)]
        lines.append("| " + " | ".join(cells) + " |")
    plan = results["plan"]
    lines.append("")
    lines.append(
        f"{plan['sagas']} sagas per row at {plan['rate']}/s, seed {plan['seed']}, "
        f"{results['seconds']} s in all, on {results['machine']['cores']} cores "
        f"({results['generated_at']}). Time to recover: from healing the fault to the "
        "end of the last saga it caught (started before it was healed); never: some "
        "did not end."
    )
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], folder: Path, label: str) -> list[Path]:
    """<label>.json and <label>.md in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{label}.json", folder / f"{label}.md"]
    paths[0].write_text(json.dumps(results, indent=2, default=str) + "\n")
    paths[1].write_text(table(results))
    return paths
