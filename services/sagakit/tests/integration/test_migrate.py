"""`migrate` upgrades the schema, and leaves alone a schema a newer version migrated.

After `helm rollback` (or while a rollout still runs old pods), an older image starts
against a database a newer one upgraded: its init container must not fail on the
revision it does not know, since expand/contract migrations keep that schema usable
by the previous version.
"""

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sagakit.db import create_engine
from sagakit.migrations import migrate
from sagakit.testing import DATABASE_PREFIX, drop_database, fresh_database

ENV = """
from sqlalchemy import MetaData
from sagakit.migrations import run_migrations

run_migrations(MetaData(), default_database="unused")
"""
REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("notes")
"""


def migrations_folder(root: Path) -> str:
    """A one-revision Alembic folder, like a service's `migrations` package."""
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV)
    (root / "versions" / "0001_notes.py").write_text(REVISION)
    return str(root)


async def state(engine: AsyncEngine) -> tuple[str, list[str]]:
    async with engine.connect() as conn:
        version = str(await conn.scalar(text("SELECT version_num FROM alembic_version")))
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return version, sorted(tables)


async def test_a_schema_newer_than_the_code_is_left_as_it_is(tmp_path: Path) -> None:
    name = f"{DATABASE_PREFIX}sagakit_migrate"
    url = await fresh_database(name)
    engine = create_engine(url)
    try:
        assert await migrate(migrations_folder(tmp_path / "migrations"), url) is True
        assert await state(engine) == ("0001", ["alembic_version", "notes"])
        async with engine.begin() as conn:  # what a newer image's migration leaves behind
            await conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        assert await migrate(str(tmp_path / "migrations"), url) is False
        assert await state(engine) == ("0002", ["alembic_version", "notes"])
    finally:
        await engine.dispose()
        await drop_database(name)
