import pytest
from django.db import connection, transaction

from tests.fuzz import harness
from tests.fuzz.world import world_build


@pytest.fixture(scope="module")
def fuzz_errors():
    """Django's connection handling for in-process requests, and the tracebacks of unhandled exceptions."""
    with harness.in_process_requests() as errors:
        yield errors


@pytest.fixture(scope="module")
def schema(fuzz_errors, django_db_setup, django_db_blocker):
    """The OpenAPI schema as the application serves it (generated once per module)."""
    with django_db_blocker.unblock():
        return harness.load_schema()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Both tenants, built once for the module inside a transaction that is rolled back at its end.
    Each test adds its own savepoint (the `db` fixture) and each fuzzed request one more."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = world_build()
            with connection.cursor() as cursor:
                # run the deferred constraint checks of the build now: with checks pending, the ALTER
                # TABLE of the ledger's truncate guard (tests/conftest.py) refuses to run in this transaction
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            yield built
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
