"""Permission-matrix harness: every route against every principal state (after NetBox's
`utilities/testing/views.py` and `api.py`).

An app adds a few lines per route to its `tests/matrix/test_<app>_matrix.py`:

    ROUTES = register("incidents", [
        listing("api:incident-list", target="incident", visible_to=INCIDENT_VIEWERS),
        detail("api:incident-detail", target="incident", visible_to=INCIDENT_VIEWERS),
        action("api:incident-close", "post", target="incident", visible_to=INCIDENT_VIEWERS,
               probe=lambda w: Incident.objects.get(pk=w.incident.pk).status),
    ])

    @pytest.mark.parametrize(("route", "state"), cases(ROUTES))
    def test_permission_matrix(route, state, world):
        check(route, state, world)

and, once, tells the world how to build its target object:

    @world_object("incident")
    def _incident(w):
        return incident_create(actor=w.admin, department=w.department, ...)

The expectation of every state follows from three sets the entry states explicitly: who may see
the target (`visible_to`), who may act on it (`allowed_to`, default: IN_SCOPE only) and, for pages
that list people or objects of another kind, who sees the `marker`. The rules are the house rules:
anonymous is 401 (API) or a redirect to the login page (portal); a list answers 200 to every
authenticated user but holds the target only for those who may see it; an object outside the
user's scope is 404; an object the user sees but may not act on is 403. Anything irregular is an
explicit `overrides={State.X: Expect(...)}` with a reason in `note`.

The ledger rule is checked on every case: a successful write (POST/PUT/PATCH/DELETE answered 2xx,
or a redirect that is not to the login page) leaves exactly one ledger event besides
`access.denied`; a refused request leaves none but `access.denied`. A write that legitimately
records more (a dispatch to N departments, a bulk operation) or nothing states `events=N` (or
`events=None`: not counted) with the reason in `events_note`.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Max
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.organizations import services as org_services
from tests import factories as f

# ---------------------------------------------------------------------------------------------
# Principal states


class State(enum.Enum):
    """Who makes the request, relative to the target object (which lives in `World.department`,
    city A1 of province A).

    Seated states hold the route's acting role (`Route.role`) in their department, so a refusal
    shows the *scope* refused, not the role: a head in another region must still get a 404 on a
    head-only route. LOWER_ROLE adds the opposite check for routes that need more than staff.
    """

    ANONYMOUS = "anonymous"
    NO_ROLE = "no_role"  # authenticated, no membership anywhere
    OTHER_REGION = "other_region"  # a department in city B1, province B (no agreement with A)
    SAME_REGION_OTHER_DEPT = "same_region_other_dept"  # another department of city A1
    IN_SCOPE = "in_scope"  # the route's role in the object's own department
    LOWER_ROLE = "lower_role"  # staff in the object's own department; only for head/steward routes
    GUARDIAN_GRANT = "guardian_grant"  # a department in B1 whose group holds a grant on the object
    REVOKED_GRANT = "revoked_grant"  # like GUARDIAN_GRANT, but the grant was revoked by the service


AUTHENTICATED = frozenset(s for s in State if s is not State.ANONYMOUS)
# The role one step below a route's acting role; routes for staff have no LOWER_ROLE state.
LOWER = {Role.HEAD: Role.STAFF, Role.STEWARD: Role.STAFF}
# Which world department seats each state.
STATE_DEPARTMENT = {
    State.IN_SCOPE: "department",
    State.LOWER_ROLE: "department",
    State.SAME_REGION_OTHER_DEPT: "neighbour",
    State.OTHER_REGION: "other_region_department",
    State.GUARDIAN_GRANT: "guardian_department",
    State.REVOKED_GRANT: "revoked_department",
}


def states_for(role: str) -> list[State]:
    return [s for s in State if s is not State.LOWER_ROLE or role in LOWER]


# ---------------------------------------------------------------------------------------------
# Expectations


@dataclass(frozen=True)
class Expect:
    """What one state must get: a status and, for lists and pages, whether the target shows."""

    status: int
    visible: bool | None = None  # None: not checked
    to_login: bool = False  # a 302 that must go to the login page

    @property
    def allowed(self) -> bool:
        """The request did what it asked (a write must have changed the probe)."""
        return 200 <= self.status < 300 or (self.status == 302 and not self.to_login)


OK = Expect(200)
CREATED = Expect(201)
NO_CONTENT = Expect(204)
REDIRECT = Expect(302)
UNAUTHENTICATED = Expect(401)
FORBIDDEN = Expect(403)
HIDDEN = Expect(404)
TO_LOGIN = Expect(302, to_login=True)
SHOWN = Expect(200, visible=True)
NOT_SHOWN = Expect(200, visible=False)


# ---------------------------------------------------------------------------------------------
# The world


_WORLD_OBJECTS: dict[str, Callable[[World], Any]] = {}


def world_object(name: str):
    """Register a lazily built world attribute (a route's target); built once per world, on first use."""

    def decorator(builder: Callable[[World], Any]):
        existing = _WORLD_OBJECTS.get(name)
        if existing is not None and (existing.__module__, existing.__qualname__) != (
            builder.__module__,
            builder.__qualname__,
        ):
            raise ValueError(f"world object {name!r} is already built by {existing.__module__}.{existing.__qualname__}")
        _WORLD_OBJECTS[name] = builder
        return builder

    return decorator


@dataclass(frozen=True)
class Grant:
    """How a route's model grants (and revokes) cross-scope access to a department's group."""

    grant: Callable[[World, Any, Any], None]
    revoke: Callable[[World, Any, Any], None]


def _department_grant(world: World, target, grantee) -> None:
    org_services.department_grant(actor=world.admin, department=world.department, grantee=grantee)


def _department_grant_revoke(world: World, target, grantee) -> None:
    org_services.department_grant_revoke(actor=world.admin, department=world.department, grantee=grantee)


# Models without a grant service of their own: the guardian states hold a grant on the object's
# department (so the matrix proves that a department grant does not open the department's
# memberships, keys or ledger).
DEPARTMENT_GRANT = Grant(_department_grant, _department_grant_revoke)


class World:
    """The scene of every matrix case, built through the services (so groups and ledger are real).

    province A ── city A1 (`region`): `department` (the target's), `neighbour`
    province B ── city B1: `other_region_department`, `guardian_department`, `revoked_department`
    province C ── city C1: `third_party` (a department no state sits in: agreement partner, big-data
    center of the target leading group). No agreement is active, so no region opens another.

    Seats are created on demand (`user(state, role)`), targets on first access (`world_object`).
    """

    def __init__(self):
        self.admin = f.admin_user()
        self.province_a = f.region(name="Prov-Alpha")
        self.region = f.region(parent=self.province_a, name="City-Alpha-One")
        self.province_b = f.region(name="Prov-Bravo")
        self.city_b1 = f.region(parent=self.province_b, name="City-Bravo-One")
        self.province_c = f.region(name="Prov-Charlie")
        self.city_c1 = f.region(parent=self.province_c, name="City-Charlie-One")
        self.department = f.department(region=self.region, name="Target-Department")
        self.neighbour = f.department(region=self.region, name="Neighbour-Department")
        self.other_region_department = f.department(region=self.city_b1, name="Bravo-Department")
        self.guardian_department = f.department(region=self.city_b1, name="Guardian-Department")
        self.revoked_department = f.department(region=self.city_b1, name="Revoked-Department")
        self.third_party = f.department(region=self.city_c1, name="Charlie-Department")
        self.no_role_user = f.UserFactory(display_name="No-Role-Person")
        self._seats: dict[tuple[int, str], Any] = {}
        self._grants_applied = False

    def __getattr__(self, name: str):
        builder = _WORLD_OBJECTS.get(name)
        if builder is None:
            raise AttributeError(f"World has no {name!r}; register a builder with @world_object({name!r})")
        value = builder(self)
        setattr(self, name, value)
        return value

    def department_of(self, state: State):
        attr = STATE_DEPARTMENT.get(state)
        return getattr(self, attr) if attr else None

    def user(self, state: State, role: str = Role.STAFF):
        """The user making the request in `state` for a route whose acting role is `role`."""
        if state is State.ANONYMOUS:
            return None
        if state is State.NO_ROLE:
            return self.no_role_user
        if state is State.LOWER_ROLE:
            role = LOWER[role]
        department = self.department_of(state)
        key = (department.pk, role)
        if key not in self._seats:
            self._seats[key] = f.member(department, role, display_name=f"Seat-{department.pk}-{role}")
        return self._seats[key]

    def apply_grants(self, route: Route) -> None:
        """Grant the guardian department access to the route's target; grant then revoke for the other."""
        if self._grants_applied:
            return
        self._grants_applied = True
        target = route.target_of(self)
        grant = route.grant or DEPARTMENT_GRANT
        grant.grant(self, target, self.guardian_department)
        grant.grant(self, target, self.revoked_department)
        grant.revoke(self, target, self.revoked_department)


@pytest.fixture
def world(db) -> World:
    return World()


# ---------------------------------------------------------------------------------------------
# Routes


GHOST_ID = 2_147_483_000  # an id no row has: a hidden object must look exactly like it
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
DENIAL_EVENT = "access.denied"  # the one event a refusal writes


@dataclass(frozen=True)
class Route:
    """One (url name, HTTP method) and what every principal state must get from it."""

    name: str  # e.g. "api:department-detail", "portal:department-list"
    method: str
    expect: Mapping[State, Expect]
    role: str = Role.STAFF  # acting role of the seated states
    target: str | Callable[[World], Any] | None = None  # world attribute name or builder
    on_object: bool = False  # the URL addresses the target (detail pages, detail actions)
    lookup: str = "pk"  # target attribute in the URL and in list rows
    url_kwarg: str = "pk"
    id_key: str = "id"  # API row key holding `lookup`
    kwargs: Callable[[World], dict] | None = None  # further URL kwargs
    data: Callable[[World], dict] | None = None  # request body (JSON for the API, form for the portal)
    query: Mapping[str, str] = field(default_factory=dict)
    marker: Callable[[World], str] | None = None  # text on the page iff Expect.visible
    probe: Callable[[World], Any] | None = None  # database state a write changes iff allowed
    grant: Grant | None = None  # the target model's own grant service (default: department grant)
    denial_target: Callable[[World], Any] | None = None  # the object a refusal must be recorded for
    check_extra: Callable[[World, State, Any, Any], None] | None = None  # (world, state, user, response)
    note: str = ""
    # Ledger events besides `access.denied` that an allowed write leaves: one per action by the house
    # rule; anything else (or None: not counted) needs the reason in `events_note`.
    events: int | None = 1
    # Ledger actions a refusal records besides `access.denied` (a wrong second-factor code is a
    # failed authentication, recorded like a failed login); the reason goes in `events_note`.
    refusal_events: frozenset[str] = frozenset()
    events_note: str = ""

    def __post_init__(self):
        if (self.events != 1 or self.refusal_events) and not self.events_note:
            raise ValueError(
                f"{self.id}: a write leaves exactly one ledger event, a refusal none; say why not in events_note"
            )

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")

    @property
    def key(self) -> tuple[str, str]:
        return self.name, self.method

    @property
    def id(self) -> str:
        return f"{self.name}-{self.method.upper()}"

    def target_of(self, world: World):
        if self.target is None:
            return None
        return getattr(world, self.target) if isinstance(self.target, str) else self.target(world)

    def url(self, world: World, target, *, ghost: bool = False) -> str:
        kwargs = dict(self.kwargs(world)) if self.kwargs else {}
        if self.on_object:
            kwargs[self.url_kwarg] = GHOST_ID if ghost else getattr(target, self.lookup)
        return reverse(self.name, kwargs=kwargs or None)

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS

    def send(self, client, url: str, world: World):
        data = self.data(world) if self.data else None
        if self.method == "get":
            return client.get(url, dict(self.query))
        if self.is_api:
            return getattr(client, self.method)(url, data, format="json")
        return getattr(client, self.method)(url, data or {})

    def denied_object(self, world: World):
        if self.denial_target is not None:
            return self.denial_target(world)
        return self.target_of(world) if self.on_object else None


def _expectations(
    kind: str,
    *,
    api: bool,
    role: str,
    visible_to: Iterable[State],
    allowed_to: Iterable[State],
    success: int,
    shows_marker_to: Iterable[State] | None,
    check_visibility: bool,
    overrides: Mapping[State, Expect] | None,
) -> dict[State, Expect]:
    visible_to, allowed_to = frozenset(visible_to), frozenset(allowed_to)
    if State.ANONYMOUS in visible_to | allowed_to:
        raise ValueError("anonymous users never see tenant objects; override explicitly if a route is public")
    if not allowed_to <= visible_to:
        raise ValueError("who may act on an object must also see it (otherwise the answer is 404)")
    marker_to = frozenset(shows_marker_to) if shows_marker_to is not None else visible_to
    expect: dict[State, Expect] = {}
    for state in states_for(role):
        if state is State.ANONYMOUS:
            expect[state] = UNAUTHENTICATED if api else TO_LOGIN
        elif kind == "list":
            expect[state] = Expect(200, visible=state in marker_to) if check_visibility else OK
        elif kind == "detail":
            if state in visible_to:
                expect[state] = Expect(200, visible=state in marker_to if shows_marker_to is not None else None)
            else:
                expect[state] = HIDDEN
        elif kind == "action":
            expect[state] = Expect(success) if state in allowed_to else FORBIDDEN if state in visible_to else HIDDEN
        else:  # pragma: no cover - programming error
            raise ValueError(kind)
    for state, value in (overrides or {}).items():
        if state not in expect:
            raise ValueError(f"{state} does not apply to a route whose role is {role}")
        expect[state] = value
    return expect


def listing(
    name: str,
    *,
    visible_to: Iterable[State] = (),
    target=None,
    marker: Callable[[World], str] | None = None,
    role: str = Role.STAFF,
    overrides: Mapping[State, Expect] | None = None,
    **options,
) -> Route:
    """A list or page: 200 for every authenticated user; the target (its id in API rows, or the
    `marker` text on a portal page) shows only for `visible_to`."""
    api = name.startswith("api:")
    check_visibility = marker is not None or (api and target is not None)
    query = options.pop("query", {"page_size": "200"} if api else {})
    expect = _expectations(
        "list",
        api=api,
        role=role,
        visible_to=visible_to,
        allowed_to=(),
        success=200,
        shows_marker_to=None,
        check_visibility=check_visibility,
        overrides=overrides,
    )
    return Route(name, "get", expect, role=role, target=target, marker=marker, query=query, **options)


def detail(
    name: str,
    *,
    target,
    visible_to: Iterable[State],
    role: str = Role.STAFF,
    marker: Callable[[World], str] | None = None,
    shows_marker_to: Iterable[State] | None = None,
    overrides: Mapping[State, Expect] | None = None,
    **options,
) -> Route:
    """One object by its id: 200 for `visible_to`, 404 for everyone else (hidden == nonexistent)."""
    expect = _expectations(
        "detail",
        api=name.startswith("api:"),
        role=role,
        visible_to=visible_to,
        allowed_to=(),
        success=200,
        shows_marker_to=shows_marker_to if marker is not None else None,
        check_visibility=True,
        overrides=overrides,
    )
    return Route(name, "get", expect, role=role, target=target, on_object=True, marker=marker, **options)


def action(
    name: str,
    method: str,
    *,
    target,
    visible_to: Iterable[State],
    allowed_to: Iterable[State] = (State.IN_SCOPE,),
    role: str = Role.HEAD,
    success: int = 200,
    on_object: bool = True,
    overrides: Mapping[State, Expect] | None = None,
    **options,
) -> Route:
    """A write: `success` for `allowed_to`, 403 for those who see the target but may not act, 404
    for the rest. Give a `probe` so the matrix also proves a refused write changed nothing."""
    expect = _expectations(
        "action",
        api=name.startswith("api:"),
        role=role,
        visible_to=visible_to,
        allowed_to=allowed_to,
        success=success,
        shows_marker_to=None,
        check_visibility=False,
        overrides=overrides,
    )
    return Route(name, method.lower(), expect, role=role, target=target, on_object=on_object, **options)


def cases(routes: Iterable[Route]) -> list:
    """One pytest param per (route, state), with readable ids."""
    return [
        pytest.param(route, state, id=f"{route.id}-{state.value}")
        for route in routes
        for state in State
        if state in route.expect
    ]


# ---------------------------------------------------------------------------------------------
# The runner


API_ERROR_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found"}


def _excerpt(response, limit: int = 400) -> str:
    content = getattr(response, "content", b"")
    return content[:limit].decode(errors="replace")


def _rows(body):
    return body["results"] if isinstance(body, dict) and "results" in body else body


def _last_seq() -> int:
    return AuditEvent.objects.aggregate(m=Max("seq"))["m"] or 0


def _events_since(seq: int) -> list[str]:
    """Actions of the ledger events written after `seq`, besides refusals."""
    return list(
        AuditEvent.objects.filter(seq__gt=seq)
        .exclude(action=DENIAL_EVENT)
        .order_by("seq")
        .values_list("action", flat=True)
    )


def check(route: Route, state: State, world: World) -> None:
    """Make the request as `state` and assert everything the entry promises."""
    expect = route.expect[state]
    world.apply_grants(route)
    user = world.user(state, route.role)
    target = route.target_of(world)
    client = APIClient() if route.is_api else Client()
    if user is not None:
        client.force_login(user)
    url = route.url(world, target)
    marker = route.marker(world) if route.marker else None  # built before the request, like the target
    before = route.probe(world) if route.probe else None
    if route.data is not None:
        route.data(world)  # builds the world objects the body names before the ledger is counted
    seq_before = _last_seq()

    response = route.send(client, url, world)
    recorded_events = _events_since(seq_before)
    where = f"{route.method.upper()} {url} ({route.id}) as {state.value}"
    assert response.status_code == expect.status, (
        f"{where}: expected {expect.status}, got {response.status_code}: {_excerpt(response)}"
    )

    login_url = resolve_url(settings.LOGIN_URL)
    if response.status_code in (301, 302, 303):
        location = response["Location"]
        if expect.to_login:
            assert location.startswith(login_url), f"{where}: redirected to {location}, not to the login page"
        else:
            assert not location.startswith(login_url), f"{where}: sent to the login page while logged in"

    if route.is_api and response.status_code in API_ERROR_CODES:
        error = response.json().get("error", {})
        assert error.get("code") == API_ERROR_CODES[response.status_code], f"{where}: error body {error}"
        if response.status_code == 401:
            assert response.get("WWW-Authenticate"), f"{where}: a 401 must name an authentication scheme"

    if expect.visible is not None:
        if marker is not None:
            shown = marker in response.content.decode()
            what = f"marker {marker!r}"
        else:
            body = response.json()
            assert not (isinstance(body, dict) and body.get("next")), f"{where}: the list spans pages; raise page_size"
            wanted = getattr(target, route.lookup)
            shown = any(row.get(route.id_key) == wanted for row in _rows(body))
            what = f"{type(target).__name__} {route.lookup}={wanted}"
        assert shown == expect.visible, f"{where}: {what} {'missing' if expect.visible else 'LEAKED'}"

    if route.is_api and route.on_object and route.method == "get" and response.status_code == 200:
        assert response.json().get(route.id_key) == getattr(target, route.lookup), f"{where}: wrong object"

    if route.probe is not None:
        after = route.probe(world)
        if expect.allowed:
            assert after != before, f"{where}: answered {response.status_code} but changed nothing ({after!r})"
        else:
            assert after == before, f"{where}: refused, yet changed {before!r} -> {after!r}"

    # One ledger event per successful write; none (but the refusal itself) for a refused request.
    if not expect.allowed:
        unexpected = [a for a in recorded_events if a not in route.refusal_events]
        assert not unexpected, f"{where}: refused, yet the ledger recorded {unexpected}"
    elif route.is_write and route.events is not None:
        assert len(recorded_events) == route.events, (
            f"{where}: a successful write must leave {route.events} ledger event(s) besides "
            f"{DENIAL_EVENT!r}, left {len(recorded_events)}: {recorded_events}"
        )

    denied = route.denied_object(world)
    if user is not None and denied is not None and expect.status in (403, 404):
        recorded = AuditEvent.objects.filter(
            seq__gt=seq_before,
            action="access.denied",
            target_type=denied._meta.label_lower,
            target_id=str(denied.pk),
        ).exists()
        assert recorded, f"{where}: refusal on an existing {denied._meta.label} was not recorded in the ledger"

    if route.on_object and expect.status == 404:
        ghost = route.send(client, route.url(world, target, ghost=True), world)
        assert ghost.status_code == 404, f"{where}: a nonexistent id answers {ghost.status_code}, not 404"
        if route.is_api:
            hidden_error = {k: v for k, v in response.json()["error"].items() if k != "request_id"}
            ghost_error = {k: v for k, v in ghost.json()["error"].items() if k != "request_id"}
            assert hidden_error == ghost_error, (
                f"{where}: a hidden object answers differently from a nonexistent one: "
                f"{json.dumps(hidden_error)} vs {json.dumps(ghost_error)}"
            )

    if route.check_extra is not None:
        route.check_extra(world, state, user, response)
