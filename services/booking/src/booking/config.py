"""Booking settings, read from the environment."""

from pydantic import Field

from sagakit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment of the booking service."""

    service_name: str = "booking"
    port: int = 8001
    journal_retention_days: int = Field(
        default=90,
        ge=0,
        description="Saga journal rows (the timelines) older than this are deleted; 0 keeps them.",
    )
