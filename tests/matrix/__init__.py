"""The permission matrix: every portal and API route run against every principal state.

`harness.py` holds the states, the world and the runner; `registry.py` the entries every app
registers from its `test_<app>_matrix.py`; `test_meta.py` fails when a route has no entry.
"""
