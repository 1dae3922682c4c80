import pytest
from django.db import connection

from tests.brokers import broker_unreachable

TRUNCATE_TRIGGER = "ledger_auditevent_no_truncate"


def _set_truncate_trigger(enabled: bool) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE ledger_auditevent {'ENABLE' if enabled else 'DISABLE'} TRIGGER {TRUNCATE_TRIGGER}")


@pytest.fixture(autouse=True)
def _ledger_truncate_guard(request):
    """The ledger refuses TRUNCATE, and Django flushes transactional tests' tables with TRUNCATE.

    Tests run with the trigger on; only the flush after a `transactional_db` test runs with it
    off (this fixture is torn down just before that flush, then re-arms it next test).
    """
    marker = request.node.get_closest_marker("django_db")
    options = (
        (dict(zip(("transaction", "reset_sequences"), marker.args, strict=False)) | marker.kwargs) if marker else {}
    )
    transactional = bool(options.get("transaction") or options.get("reset_sequences"))
    if transactional or "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        request.getfixturevalue("transactional_db")
        _set_truncate_trigger(True)
        yield
        _set_truncate_trigger(False)
    elif "db" in request.fixturenames or "django_db_setup" in request.fixturenames:
        request.getfixturevalue("db")
        _set_truncate_trigger(True)
        yield
    else:
        yield


@pytest.fixture
def admin(db):
    from tests.factories import admin_user

    return admin_user()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def broker_down():
    """The test process publishes to a broker that refuses connections (nothing listens on port 1)."""
    with broker_unreachable():
        yield


# Tests that start real Celery workers, with their own brokers' queues and process trees, run one
# after another on a single pytest-xdist process (`--dist loadgroup`); everything else is shared out.
SERIAL_DIRECTORIES = ("worker",)


def pytest_collection_modifyitems(config, items):
    root = config.rootpath / "tests"
    for item in items:
        try:
            top = item.path.relative_to(root).parts[0]
        except ValueError:
            continue
        if top in SERIAL_DIRECTORIES:
            item.add_marker(pytest.mark.xdist_group("real-workers"))
