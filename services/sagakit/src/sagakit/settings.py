"""Settings every service reads from its environment (UPPER_CASE variables)."""

from __future__ import annotations

import os
import socket
from enum import StrEnum

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Transport(StrEnum):
    """How events travel between services."""

    STREAMS = "streams"
    PUBSUB = "pubsub"


def _default_consumer_name() -> str:
    # Unique per process so two replicas on one host never share a name.
    return f"{socket.gethostname()}-{os.getpid()}"


class ServiceSettings(BaseSettings):
    """Configuration shared by the five services; each subclass sets its name and port."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = ""
    redis_url: str = "redis://127.0.0.1:6379/0"
    event_transport: Transport = Transport.STREAMS
    event_prefix: str = Field(default="", description="Prefix of every stream and channel name.")
    dead_letter_stream: str = "saga.dead-letters"
    # Signed events (docs/security.md): this service's private key, `<key id>:<base64>`...
    event_signing_key: SecretStr = Field(
        default=SecretStr(""), description="The key this service signs its events with."
    )
    # ...and `<producer>:<key id>:<base64>` entries: the public keys of whom it hears.
    event_verify_keys: str = Field(
        default="", description="Public keys of the producers whose events this service hears."
    )
    consumer_name: str = Field(default_factory=_default_consumer_name)
    max_deliveries: int = Field(default=5, ge=1)
    claim_idle_ms: int = Field(default=15_000, ge=100)
    poll_interval_ms: int = Field(default=100, ge=1)
    stream_maxlen: int = Field(default=100_000, ge=1000)
    relay_batch_size: int = Field(default=100, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1, description="Connections each process keeps.")
    db_max_overflow: int = Field(
        default=10, ge=0, description="Extra connections a process opens at peaks, then closes."
    )
    db_pool_pre_ping: bool = False
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")
    metrics_interval_seconds: float = Field(default=5.0, gt=0)
    # Starting (docs/operations.md, "Starting and stopping").
    redis_wait_seconds: float = Field(
        default=60.0, ge=0, description="How long to retry while Redis does not answer at start."
    )
    schema_check_seconds: float = Field(
        default=1.0, gt=0, description="How often to re-check a database schema behind the code."
    )
    # Stopping, in this order; the chart's terminationGracePeriodSeconds covers their sum.
    shutdown_http_seconds: float = Field(
        default=10.0, gt=0, description="How long in-flight HTTP requests may take to finish."
    )
    shutdown_consumers_seconds: float = Field(
        default=10.0, gt=0, description="How long the messages in hand may take to finish."
    )
    shutdown_relay_seconds: float = Field(
        default=5.0, gt=0, description="How long the last outbox drain may take."
    )

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a database named after the service on localhost."""
        if self.database_url:
            return self.database_url
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.service_name}"
