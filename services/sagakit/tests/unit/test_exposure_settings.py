"""DOCS_ENABLED and ALLOWED_HOSTS as an operator writes them in the environment."""

import pytest
from pydantic import ValidationError

from sagakit.settings import ServiceSettings


def test_the_defaults_show_the_docs_to_any_host() -> None:
    settings = ServiceSettings()
    assert (settings.docs_enabled, settings.allowed_hosts) == (True, ["*"])


def test_allowed_hosts_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", " saga-booking, saga-booking.saga.svc ,*.example.com,")
    monkeypatch.setenv("DOCS_ENABLED", "false")
    settings = ServiceSettings()
    assert settings.allowed_hosts == ["saga-booking", "saga-booking.saga.svc", "*.example.com"]
    assert settings.docs_enabled is False


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("api.*.example.com", "a wildcard must be"),
        ("https://api.example.com", "a host name only"),
        ("api.example.com:443", "a host name only"),
        (" , ", "at least one host"),
    ],
)
def test_a_host_the_middleware_would_refuse_fails_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", value)
    with pytest.raises(ValidationError, match="allowed_hosts") as error:
        ServiceSettings()
    assert says in str(error.value)
