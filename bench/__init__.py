"""Benchmark scripts (run as files, see each docstring); a package only so that gunicorn can import
bench.load_settings and bench.load_urls for bench/load.py."""
