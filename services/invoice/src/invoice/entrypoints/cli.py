"""`invoice serve` and `invoice migrate`."""

from invoice.config import Settings
from sagakit.cli import service_cli

cli = service_cli(Settings, "invoice.entrypoints.app:create_app", "invoice:migrations")


def main() -> None:
    """Console script entry point."""
    cli()
