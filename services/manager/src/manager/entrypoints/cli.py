"""`manager serve` and `manager migrate`."""

from manager.config import Settings
from sagakit.cli import service_cli

cli = service_cli(Settings, "manager.entrypoints.app:create_app", "manager:migrations")


def main() -> None:
    """Console script entry point."""
    cli()
