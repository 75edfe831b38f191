"""Payment settings, read from the environment."""

from pydantic import Field

from sagakit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment of the payment service."""

    service_name: str = "payment"
    port: int = 8004
    payment_timeout_seconds: float = Field(
        default=900.0,
        gt=0,
        description="How long a payment request waits for the customer; then it expires.",
    )
