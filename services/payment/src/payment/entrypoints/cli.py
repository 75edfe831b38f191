"""`payment serve` and `payment migrate`."""

from payment.config import Settings
from sagakit.cli import service_cli

cli = service_cli(Settings, "payment.entrypoints.app:create_app", "payment:migrations")


def main() -> None:
    """Console script entry point."""
    cli()
