"""`billing serve` and `billing migrate`."""

from billing.config import Settings
from sagakit.cli import service_cli

cli = service_cli(Settings, "billing.entrypoints.app:create_app", "billing:migrations")


def main() -> None:
    """Console script entry point."""
    cli()
