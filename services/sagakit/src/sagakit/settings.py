"""Settings every service reads from its environment (UPPER_CASE variables)."""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sagakit import exposure


class AuthMode(StrEnum):
    """Where the keys that sign bearer tokens come from (docs/security.md, "Tokens")."""

    OIDC = "oidc"  # the issuer's JWKS, over HTTP
    DEV = "dev"  # the public half of a local key file (sagakit.devauth): local runs only


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
    outage_retry_seconds: float = Field(
        default=60.0,
        ge=0,
        description="A handler that cannot reach Postgres or Redis is retried this long "
        "before the failure counts as a delivery.",
    )
    poll_interval_ms: int = Field(default=100, ge=1)
    consume_batch_size: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Events handled in one transaction: entries per XREADGROUP (streams), "
        "messages that arrived meanwhile (Pub/Sub).",
    )
    background_linger_ms: int = Field(
        default=250,
        ge=0,
        le=5000,
        description="Events no saga step waits for (a service's `background` events: the "
        "booking journal's, billing's bookkeeping) are read at most this often, so what "
        "arrived meanwhile is handled as one batch. 0: as soon as they arrive.",
    )
    stream_maxlen: int = Field(default=100_000, ge=1000)
    consumer_watch_seconds: float = Field(
        default=2.0, gt=0, description="How often stopped event subscribers are looked for."
    )
    consumer_recover_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A subscriber still stopped after this long ends the process (exit 1).",
    )
    relay_batch_size: int = Field(default=100, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1, description="Connections each process keeps.")
    db_max_overflow: int = Field(
        default=10, ge=0, description="Extra connections a process opens at peaks, then closes."
    )
    db_pool_pre_ping: bool = False
    db_pool_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a request waits for a free connection: then 503."
    )
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|text)$")
    metrics_interval_seconds: float = Field(default=5.0, gt=0)
    # Spans beyond one trace per saga (sagakit.telemetry, docs/observability.md).
    trace_sql_statements: bool = Field(
        default=False, description="A span per SQL statement (with OTEL tracing on)."
    )
    trace_redis_commands: bool = Field(
        default=False, description="A span per Redis command (with OTEL tracing on)."
    )
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
    # What the API shows and to whom (sagakit.exposure, docs/security.md).
    docs_enabled: bool = Field(
        default=True, description="Serve /docs, /redoc, /openapi.json and /asyncapi*."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Host header values the API answers (comma-separated; `*`: any).",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return exposure.split_hosts(value) if isinstance(value, str) else value

    @field_validator("allowed_hosts")
    @classmethod
    def _check_hosts(cls, value: list[str]) -> list[str]:
        return exposure.check_hosts(value)

    # Bearer tokens (docs/security.md, "Tokens"): checked by sagakit.auth at start.
    auth_mode: AuthMode = Field(default=AuthMode.OIDC, description="`oidc` or `dev`.")
    auth_issuer: str = Field(default="", description="OIDC issuer URL (required with `oidc`).")
    auth_audience: str = Field(default="saga", min_length=1, description="The `aud` required.")
    auth_jwks_url: str = Field(default="", description="Empty: OIDC discovery from the issuer.")
    auth_roles_claim: str = Field(
        default="roles",
        pattern=r"^[^.\s]+(\.[^.\s]+)*$",
        description="Dotted path of the roles list in the token (`realm_access.roles`).",
    )
    auth_dev_key_file: str = Field(default="", description="`dev`: PEM of the signing key.")

    # What one request, one flood or one year of traffic may cost (docs/security.md).
    http_max_body_bytes: int = Field(default=65_536, ge=1024, description="Larger bodies: 413.")
    http_max_url_bytes: int = Field(
        default=4096, ge=256, description="Longer path plus query string: 414."
    )
    http_max_header_bytes: int = Field(
        default=16_384, ge=1024, description="More bytes of header names and values: 431."
    )
    http_limit_concurrency: int = Field(
        default=1000, ge=10, description="Open connections or requests beyond which uvicorn: 503."
    )
    long_poll_max_waiters: int = Field(
        default=500, ge=0, description="Long polls waiting at once per process; beyond: 503."
    )
    long_poll_connections: int = Field(
        default=2, ge=1, description="Database connections the waiting long polls share."
    )
    inbox_retention_days: int = Field(
        default=30, ge=0, description="Inbox rows older than this are deleted; 0 keeps them."
    )
    outbox_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="Published outbox rows are kept this long, to be re-published on request.",
    )
    # The reconciler (sagakit.reconcile, docs/reliability.md "When the broker forgets").
    reconcile_after_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A saga that has not moved for this long gets its events re-published.",
    )
    reconcile_interval_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How often booking looks for sagas that stopped moving; 0: never.",
    )
    retention_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often old rows are looked for."
    )
    retention_batch_size: int = Field(default=1000, ge=1, description="Rows deleted per statement.")
    # Deadlines (sagakit.deadlines, docs/reliability.md "Deadlines").
    deadline_sweep_seconds: float = Field(
        default=5.0, gt=0, description="How often each replica fires the deadlines that fell due."
    )
    deadline_batch_size: int = Field(
        default=100, ge=1, description="Deadlines fired per transaction."
    )
    idempotency_retention_hours: int = Field(
        default=24, ge=0, description="Idempotency keys older than this are deleted; 0 keeps them."
    )
    # Redis housekeeping, every retention_interval_seconds (docs/operations.md).
    dead_letter_retention_days: int = Field(
        default=30, ge=0, description="Dead letters older than this are trimmed; 0 keeps them."
    )
    consumer_reap_idle_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="Consumers idle this long with nothing pending leave their groups; 0: never.",
    )

    @model_validator(mode="after")
    def _check_housekeeping(self) -> ServiceSettings:
        # An inbox row is what makes a redelivered event a no-op: it must outlive every
        # redelivery of the event (docs/operations.md, "Housekeeping").
        window = self.redelivery_window_seconds()
        if self.inbox_retention_days and self.inbox_retention_days * 86_400 <= window:
            raise ValueError(
                f"INBOX_RETENTION_DAYS={self.inbox_retention_days} would delete inbox rows "
                f"while their events can still be redelivered (for {window:.0f}s: "
                "CLAIM_IDLE_MS x MAX_DELIVERIES plus one retention interval); raise it, "
                "or lower CLAIM_IDLE_MS or MAX_DELIVERIES"
            )
        reap = self.consumer_reap_idle_seconds
        if reap and reap <= self.claim_idle_ms / 1000:
            raise ValueError(
                f"CONSUMER_REAP_IDLE_SECONDS={reap:g} must exceed CLAIM_IDLE_MS "
                f"({self.claim_idle_ms / 1000:g}s), or be 0 (never reap)"
            )
        return self

    def outage_window_seconds(self) -> float:
        """How long a handler retries in process while Postgres or Redis is out of reach.

        Streams: at most half of `claim_idle_ms`, so the entry is not claimed again (and
        counted as another delivery) while its first delivery still retries.
        """
        if self.event_transport is Transport.STREAMS:
            return min(self.outage_retry_seconds, self.claim_idle_ms / 2000)
        return self.outage_retry_seconds

    def redelivery_window_seconds(self) -> float:
        """How long after its first delivery an unacknowledged event can come again."""
        claims = self.claim_idle_ms / 1000 * self.max_deliveries
        return claims + self.retention_interval_seconds

    @model_validator(mode="after")
    def _keep_outbox_long_enough(self) -> ServiceSettings:
        # A row must outlive at least two reconcile rounds of its saga, or a saga stuck
        # after its row expired could never be completed by re-publishing it.
        if self.outbox_retention_hours * 3600 < 2 * self.reconcile_after_seconds:
            raise ValueError(
                "OUTBOX_RETENTION_HOURS must keep published rows at least twice "
                f"RECONCILE_AFTER_SECONDS ({self.reconcile_after_seconds:g}s)"
            )
        # A re-published row must still find its inbox entry, or it would be handled twice.
        if 0 < self.inbox_retention_days * 24 <= self.outbox_retention_hours:
            raise ValueError(
                "INBOX_RETENTION_DAYS must outlast OUTBOX_RETENTION_HOURS "
                f"({self.outbox_retention_hours:g}h): a re-published event would be handled again"
            )
        return self

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a database named after the service on localhost."""
        if self.database_url:
            return self.database_url
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.service_name}"
