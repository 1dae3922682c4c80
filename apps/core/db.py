"""Read-replica routing (decision 0014): a read goes to the replica only inside an explicit scope.

`replica_reads()` (a context manager and a decorator) marks code whose reads may be a moment
behind the primary: list pages and API lists, the snapshot a consolidated report is built from.
Inside it the router sends a read to the `replica` alias, except when

- no replica is configured (`DATABASE_REPLICA_URL` unset): everything stays on `default`;
- the primary's connection is inside a transaction: whatever that transaction wrote (or locked)
  must be read back from it, so a service called inside the scope reads and writes the primary;
- the model is authentication or session state (`PRIMARY_ONLY_APPS`): an ended session, a revoked
  integration key or a reset second factor must not live on in a lagging copy.

Outside the scope every read goes to `default`, even of an object that was loaded from the replica
(Django would otherwise follow the object's own database). Writes always go to `default`, and the
replica is never migrated. What must be exact reads outside any scope: services, details, exports,
`verify_ledger` (which also names `default` itself), `verify_archive`, the archive freeze.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router

REPLICA = "replica"
# Authentication and session state: read from the primary even inside a replica scope.
PRIMARY_ONLY_APPS = frozenset({"sessions", "auth", "accounts", "otp_totp", "otp_static", "django_otp", "axes"})
# Set after a write (an unsafe request) for DATABASE_REPLICA_PIN_SECONDS: that client's list
# pages read the primary, so the list it is sent back to shows its own change.
PIN_COOKIE = "primary_reads"

_in_scope: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextmanager
def replica_reads():
    """Let the reads in this block go to the read replica (when one is configured)."""
    token = _in_scope.set(True)
    try:
        yield
    finally:
        _in_scope.reset(token)


def replica_reads_for(request):
    """The replica scope for a read-only request, unless its client wrote something a moment ago."""
    if request.method not in ("GET", "HEAD") or request.COOKIES.get(PIN_COOKIE):
        return nullcontext()
    return replica_reads()


def replica_configured() -> bool:
    """A `replica` alias, and this router in DATABASE_ROUTERS (the test settings have the alias only)."""
    return REPLICA in settings.DATABASES and any(isinstance(r, ReplicaRouter) for r in router.routers)


class ReplicaRouter:
    """`settings.DATABASE_ROUTERS`: reads in a `replica_reads()` scope to the replica; all else to the primary."""

    def db_for_read(self, model, **hints):
        if (
            _in_scope.get()
            and REPLICA in settings.DATABASES
            and model._meta.app_label not in PRIMARY_ONLY_APPS
            and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # the replica holds the primary's rows: an object read from either may point to the other
        return True if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA, None} else None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None
