"""Housekeeping settings that could remove what dedup still needs are refused at start."""

import pytest
from pydantic import ValidationError

from sagakit.settings import ServiceSettings

NO_REAP = {"consumer_reap_idle_seconds": 0}  # its own check against long claims is below


def test_the_defaults_keep_the_inbox_far_longer_than_any_redelivery() -> None:
    settings = ServiceSettings()
    assert settings.inbox_retention_days * 86_400 > settings.redelivery_window_seconds()
    assert settings.idempotency_retention_hours == 24
    assert settings.dead_letter_retention_days == 30


def test_an_inbox_retention_shorter_than_the_redelivery_window_is_refused() -> None:
    # An hour between claims, 30 deliveries: an event can come back for 30 hours.
    with pytest.raises(ValidationError, match="INBOX_RETENTION_DAYS=1 would delete inbox rows"):
        ServiceSettings(
            inbox_retention_days=1, claim_idle_ms=3_600_000, max_deliveries=30, **NO_REAP
        )
    fits = ServiceSettings(
        inbox_retention_days=2, claim_idle_ms=3_600_000, max_deliveries=30, **NO_REAP
    )
    assert fits.redelivery_window_seconds() == 30 * 3600 + fits.retention_interval_seconds


def test_an_inbox_kept_forever_fits_any_window() -> None:
    kept = ServiceSettings(
        inbox_retention_days=0, claim_idle_ms=10**9, max_deliveries=100, **NO_REAP
    )
    assert kept.inbox_retention_days == 0


def test_reaping_consumers_idle_less_than_a_claim_is_refused() -> None:
    with pytest.raises(ValidationError, match="CONSUMER_REAP_IDLE_SECONDS=10 must exceed"):
        ServiceSettings(consumer_reap_idle_seconds=10, claim_idle_ms=15_000)
    assert ServiceSettings(consumer_reap_idle_seconds=0).consumer_reap_idle_seconds == 0


def test_the_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_RETENTION_HOURS", "48")
    monkeypatch.setenv("DEAD_LETTER_RETENTION_DAYS", "0")
    monkeypatch.setenv("CONSUMER_REAP_IDLE_SECONDS", "600")
    settings = ServiceSettings()
    assert settings.idempotency_retention_hours == 48
    assert settings.dead_letter_retention_days == 0
    assert settings.consumer_reap_idle_seconds == 600
