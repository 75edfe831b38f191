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
    approval_timeout_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="With AUTO_APPROVE=false: how long an approval waits; then it is rejected.",
    )
