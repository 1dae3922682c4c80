"""Permission matrix for the dashboard's live fragment (`portal:dashboard-live`), polled by htmx.

The page itself (`portal:dashboard`) is covered in test_organizations_matrix.py. The fragment shows
the open incidents the caller may see: the target incident (reported by city A1's target
department) must be on it for city A1's seats and nowhere else; a department grant does not open it.
"""

import pytest

from tests.matrix import incidents_world  # noqa: F401  (registers the `incident` world object)
from tests.matrix.harness import State, cases, check, listing
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State
INCIDENT_VIEWERS = {S.IN_SCOPE, S.SAME_REGION_OTHER_DEPT}  # the reporting region's seats

ROUTES = register(
    "dashboard",
    [
        listing(
            "portal:dashboard-live",
            marker=lambda w: w.incident.title,
            visible_to=INCIDENT_VIEWERS,
            note="the command block lists the open incidents the caller may see",
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
