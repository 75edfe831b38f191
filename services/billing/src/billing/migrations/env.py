from billing.adapters.orm import metadata
from sagakit.migrations import run_migrations

run_migrations(metadata, default_database="billing")
