"""Test and benchmark tooling (not part of the installed package): the FSDD protocol over HTTP, real
``speakerverify serve`` processes, the reliability checks, API fuzzing, a throw-away PostgreSQL server
and the shared corpora. Importable as ``support`` (pytest's ``pythonpath = ["tests"]``; the benchmarks
add ``tests`` to ``sys.path`` in benchmarks/_paths.py)."""
