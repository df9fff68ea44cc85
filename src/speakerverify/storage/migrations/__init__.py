"""Alembic environment and revisions; shipped inside the package so `speakerverify db upgrade` works anywhere."""
