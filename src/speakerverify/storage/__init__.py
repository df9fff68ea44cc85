"""Persistence: one SQLAlchemy code path for SQLite (embedded) and PostgreSQL (shared by many processes).

Nothing here imports the HTTP service; ``features`` and ``models`` never import this package.
"""
