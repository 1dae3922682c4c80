"""Settings of the gunicorn that bench/load.py starts: production's, unchanged, with the bench's URL
configuration on top (the bare endpoint). The secrets production insists on come from the
environment the bench sets (throwaway values generated for each run); production itself never
imports this module, so it has no bare endpoint."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
