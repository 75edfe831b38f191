"""Payment settings, read from the environment."""

from sagakit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment of the payment service."""

    service_name: str = "payment"
    port: int = 8004
