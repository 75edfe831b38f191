"""The command line every service exposes: `serve` and `migrate` (used by a Kubernetes Job)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import typer

from sagakit import migrations
from sagakit.logs import configure_logging
from sagakit.settings import ServiceSettings


def service_cli(
    settings_factory: Callable[[], ServiceSettings],
    app_factory_path: str,
    script_location: str,
) -> typer.Typer:
    """Build the typer app for one service."""
    name = settings_factory().service_name
    cli = typer.Typer(help=f"The {name} service.", no_args_is_help=True, add_completion=False)

    @cli.command()
    def serve(
        migrate: bool = typer.Option(False, "--migrate", help="Run migrations before serving."),
    ) -> None:
        """Serve the HTTP API, the event consumers and the outbox relay in one process."""
        settings = settings_factory()
        configure_logging(settings.service_name, settings.log_level, settings.log_format)
        if migrate:
            asyncio.run(migrations.migrate(script_location, settings.resolved_database_url()))
        from sagakit.server import serve as run_server  # only `serve` needs the server

        run_server(app_factory_path, settings)

    @cli.command()
    def migrate(
        revision: str = typer.Argument("head", help="Target revision."),
        wait: float = typer.Option(0, help="Seconds to keep retrying while the database is down."),
    ) -> None:
        """Create the database if needed and upgrade its schema (an init container or a Job).

        Several processes may run it at once: an advisory lock lets one upgrade at a time.
        """
        settings = settings_factory()
        configure_logging(settings.service_name, settings.log_level, settings.log_format)
        url = settings.resolved_database_url()
        if asyncio.run(migrations.migrate(script_location, url, revision, wait)):
            typer.echo(f"{settings.service_name}: database at {revision}")
        else:
            typer.echo(f"{settings.service_name}: database ahead of this version, left as it is")

    @cli.command()
    def downgrade(revision: str = typer.Argument(..., help="Target revision, or base.")) -> None:
        """Downgrade the schema (base drops every table of the service)."""
        settings = settings_factory()
        configure_logging(settings.service_name, settings.log_level, settings.log_format)
        url = settings.resolved_database_url()
        asyncio.run(migrations.downgrade(script_location, url, revision))
        typer.echo(f"{settings.service_name}: database at {revision}")

    return cli
