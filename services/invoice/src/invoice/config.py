"""Invoice settings, read from the environment."""

from sagakit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment of the invoice service."""

    service_name: str = "invoice"
    port: int = 8005
