"""The outbox keeps rows long enough for the reconciler, and not longer than the inbox."""

import pytest
from pydantic import ValidationError

from sagakit.settings import ServiceSettings


def test_defaults_are_consistent() -> None:
    settings = ServiceSettings()
    assert settings.outbox_retention_hours * 3600 >= 2 * settings.reconcile_after_seconds
    assert settings.inbox_retention_days * 24 > settings.outbox_retention_hours


def test_the_outbox_must_keep_rows_for_two_reconcile_thresholds() -> None:
    with pytest.raises(ValidationError, match="OUTBOX_RETENTION_HOURS"):
        ServiceSettings(outbox_retention_hours=1, reconcile_after_seconds=3600)


def test_the_inbox_must_outlast_the_kept_outbox_rows() -> None:
    with pytest.raises(ValidationError, match="INBOX_RETENTION_DAYS"):
        ServiceSettings(inbox_retention_days=1, outbox_retention_hours=48)
    assert ServiceSettings(inbox_retention_days=0, outbox_retention_hours=48)  # 0: kept forever


def test_an_outage_is_retried_in_process_for_at_most_half_the_claim_idle_time_on_streams() -> None:
    streams = ServiceSettings(event_transport="streams", claim_idle_ms=10_000)
    assert streams.outage_window_seconds() == 5.0  # then the entry could be claimed again
    pubsub = ServiceSettings(event_transport="pubsub", claim_idle_ms=10_000)
    assert pubsub.outage_window_seconds() == pubsub.outage_retry_seconds  # no redelivery
