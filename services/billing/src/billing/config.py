"""Billing settings, read from the environment."""

from sagakit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment of the billing service."""

    service_name: str = "billing"
    port: int = 8003
