"""Alembic migrations of the service's database (run through ``storage.db.migrate``)."""
