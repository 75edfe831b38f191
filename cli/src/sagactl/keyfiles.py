"""`sagactl event-keys` and `sagactl redis-users`: the material of Secrets you manage yourself.

The Helm chart generates the event keys and the Redis users itself; with
`eventKeys.existingSecret` or `redisUsers.existingSecret` (stable GitOps renders, key
rotation, your own Redis) you create those Secrets, from the files these commands
write (`kubectl create secret generic NAME --from-file=DIR`). Both come from the same
table in code as everything else (sagakit.choreography).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

import typer
from rich.console import Console

from sagactl.eventsecurity import with_user
from sagakit import acl
from sagakit.choreography import SERVICES
from sagakit.keyring import Keyring, new_key_id
from sagakit.signing import new_signing_key

event_keys = typer.Typer(help="Event signing keys for a Secret of your own.", no_args_is_help=True)
redis_users = typer.Typer(help="Redis ACL users for a Secret of your own.", no_args_is_help=True)
console = Console()


@event_keys.command("files")
def event_key_files(folder: Path = typer.Argument(..., help="Where to write (created).")) -> None:
    """Write new keys as the files of an eventKeys.existingSecret."""
    keyring = Keyring.generate()
    files = {
        f"{service}-event-signing-key": keyring.keys[service].setting() for service in SERVICES
    }
    for service in SERVICES:
        files[f"{service}-event-verify-keys"] = keyring.env(service)["EVENT_VERIFY_KEYS"]
    files["operator-event-verify-keys"] = keyring.verify_keys()
    _write(folder, files)


@event_keys.command("new")
def new_event_key(service: str = typer.Argument(..., help="The producer the key is for.")) -> None:
    """Print a new key of one producer: its EVENT_SIGNING_KEY and its verify entry (rotation)."""
    if service not in SERVICES:
        console.print(f"[red]{service!r} is not one of {', '.join(SERVICES)}")
        raise typer.Exit(2)
    key = new_signing_key(new_key_id())
    typer.echo(f"signing key (EVENT_SIGNING_KEY of {service}):\n{key.setting()}")
    typer.echo(f"verify entry (add to the EVENT_VERIFY_KEYS that list {service}):")
    typer.echo(key.verify_entry(service))


@redis_users.command("files")
def redis_user_files(
    folder: Path = typer.Argument(..., help="Where to write (created)."),
    host: str = typer.Option(
        ..., help="Redis as the services reach it: saga-redis, redis.example.com."
    ),
    port: int = typer.Option(6379, help="Redis' port."),
    tls: bool = typer.Option(False, help="rediss:// URLs."),
    prefix: str = typer.Option("", envvar="EVENT_PREFIX", help="The stream prefix (EVENT_PREFIX)."),
    dead_letters: str = typer.Option(
        "saga.dead-letters", envvar="DEAD_LETTER_STREAM", help="The dead-letter stream."
    ),
) -> None:
    """Write random passwords, each user's URL and Redis' ACL file (redis-users.acl)."""
    names = [*SERVICES, acl.OPERATOR]
    passwords = {acl.username(name, prefix): secrets.token_urlsafe(24) for name in names}
    admin = secrets.token_urlsafe(24)
    base = f"{'rediss' if tls else 'redis'}://{host}:{port}/0"
    files = {
        f"{name}-redis-url": with_user(base, acl.username(name, prefix), passwords)
        for name in names
    }
    files["redis-password"] = admin  # admin: every command (the chart's probes)
    hashes = {user: acl.password_hash(password) for user, password in passwords.items()}
    lines = ["user default reset", f"user admin on {acl.password_hash(admin)} ~* &* +@all"]
    files["redis-users.acl"] = "".join(
        f"{line}\n" for line in [*lines, *acl.acl_lines(prefix, dead_letters, hashes)]
    )
    _write(folder, files)


def _write(folder: Path, files: Mapping[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for name, text in files.items():
        path = folder / name
        path.touch(mode=0o600)
        path.write_text(text)  # no newline added: each file is one value of the Secret
    hint = f"kubectl create secret generic NAME --from-file={folder}"
    console.print(f"wrote {len(files)} files to {folder}; then: {hint}", highlight=False)
