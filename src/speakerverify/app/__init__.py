"""Use cases: plain Python in, plain results out; no HTTP (the ``http`` package maps their errors)."""
