"""The history schema's revisions, oldest first (Alembic reads them; nothing imports them)."""
