"""The documentation keeps up with the code: every setting listed, every link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from billing.config import Settings as BillingSettings
from booking.config import Settings as BookingSettings
from invoice.config import Settings as InvoiceSettings
from manager.config import Settings as ManagerSettings
from payment.config import Settings as PaymentSettings
from sagakit.access import RULES

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("charts/*/README.md")],
    key=str,
)
SETTINGS = (BookingSettings, ManagerSettings, BillingSettings, PaymentSettings, InvoiceSettings)
# Set by each service's own settings class or the process, not by an operator.
NOT_OPERATOR_SETTINGS = {"service_name"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", page.read_text(), flags=re.M):
        text = re.sub(r"[`*_]", "", heading).strip().lower()
        found.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return found


def test_every_setting_is_in_the_configuration_page() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    fields = {name for cls in SETTINGS for name in cls.model_fields} - NOT_OPERATOR_SETTINGS
    missing = sorted(name.upper() for name in fields if f"`{name.upper()}`" not in page)
    assert missing == [], f"docs/configuration.md does not list {missing}"


def test_every_access_rule_is_in_the_security_page() -> None:
    page = (ROOT / "docs" / "security.md").read_text()
    routes = [route for rules in RULES.values() for route in rules]
    assert [route for route in routes if f"| `{route}` |" not in page] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor}")
    assert broken == []
