"""Manager settings, read from the environment."""

from pydantic import Field

from sagakit.settings import ServiceSettings


class Settings(ServiceSettings):
    """Environment of the manager service."""

    service_name: str = "manager"
    port: int = 8002
    auto_approve: bool = Field(
        default=True,
        description="Approve every new booking at once; false leaves them pending for a person.",
    )
