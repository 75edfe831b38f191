"""`booking serve` and `booking migrate`."""

from booking.config import Settings
from sagakit.cli import service_cli

cli = service_cli(Settings, "booking.entrypoints.app:create_app", "booking:migrations")


def main() -> None:
    """Console script entry point."""
    cli()
