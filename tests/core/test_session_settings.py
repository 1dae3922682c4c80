"""Every database session starts with the settings the platform asks for (decision 0015)."""

import pytest
from django.db import connection


@pytest.mark.django_db
def test_a_web_processs_database_session_runs_without_parallel_query():
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == "0"
