"""Booking settings, read from the environment."""

from sagakit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment of the booking service."""

    service_name: str = "booking"
    port: int = 8001
