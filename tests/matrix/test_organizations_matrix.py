"""Permission matrix for organisation, account and ledger routes (API and portal).

The visibility sets below are the scope rules as the users meet them; where two models differ
(a department is visible to its whole region, its memberships only to itself) the set says so.
"""

import pytest
from django.utils import timezone

from apps.accounts.models import IntegrationKey
from apps.accounts.services import integration_key_create
from apps.core.permissions import Role
from apps.ledger.models import AuditEvent
from apps.organizations import services
from apps.organizations.choices import LeadingGroupKind
from apps.organizations.models import Department, DepartmentGroupObjectPermission, Membership
from tests import factories as f
from tests.matrix.harness import State, action, cases, check, detail, listing, world_object
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

# Who sees what (for the route's acting role; LOWER_ROLE only applies to head routes).
REGION_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}  # own region, its subtree, ancestors
# The region rule shows a department to its whole region; a guardian grant opens it to the grantee.
DEPARTMENT_VIEWERS = REGION_VIEWERS | {S.GUARDIAN_GRANT}
MEMBERSHIP_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE}  # the department's own seats only; grants do not open them
AGREEMENT_VIEWERS = REGION_VIEWERS  # staff of the parties' regions
LEADING_GROUP_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE}  # the group's member departments only
# The ledger is for heads, region-wide: the neighbouring department's head sees the event too.
LEDGER_VIEWERS = {S.IN_SCOPE, S.SAME_REGION_OTHER_DEPT}
KEY_VIEWERS = {S.IN_SCOPE}  # heads of the key's own department


# --- targets ---------------------------------------------------------------------------------


@world_object("membership")
def _membership(w):
    user = f.member(w.department, Role.STAFF, display_name="Target-Member-Person")
    return Membership.objects.get(user=user, department=w.department)


@world_object("newcomer")
def _newcomer(w):
    return f.UserFactory(display_name="Newcomer-Person")


@world_object("agreement")
def _agreement(w):
    # A draft: visible to the parties' staff, but opens nothing (no state's scope changes).
    return services.agreement_create(
        actor=w.admin, title="Alpha-Charlie-Accord", parties=[w.province_a, w.province_c], valid_from=timezone.now()
    )


@world_object("leading_group")
def _leading_group(w):
    return services.leading_group_create(
        actor=w.admin,
        name="Alpha-Leading-Group",
        kind=LeadingGroupKind.STANDING,
        regions=[w.province_a],
        information_office=w.department,
        big_data_center=w.third_party,
    )


@world_object("audit_event")
def _audit_event(w):
    """The creation of the target department: an event of city A1."""
    return AuditEvent.objects.get(action="department.create", target_id=str(w.department.pk))


@world_object("integration_key")
def _integration_key(w):
    key, _secret = integration_key_create(actor=w.admin, department=w.department, name="Matrix-Key")
    return key


# --- probes (database state a write changes iff it is allowed) -------------------------------


def department_phone(w):
    return Department.objects.get(pk=w.department.pk).contact_phone


def newcomer_seated(w):
    return Membership.objects.filter(user=w.newcomer, department=w.department).exists()


def department_grants(w):
    return sorted(
        DepartmentGroupObjectPermission.objects.filter(content_object=w.department).values_list("group_id", flat=True)
    )


def membership_exists(w):
    return Membership.objects.filter(pk=w.membership.pk).exists()


def department_keys(w):
    return IntegrationKey.objects.filter(department=w.department).count()


def key_revoked(w):
    return IntegrationKey.objects.get(pk=w.integration_key.pk).revoked_at is not None


def me_is_the_caller(world, state, user, response):
    if response.status_code == 200:
        assert response.json()["username"] == user.username


ROUTES = register(
    "organizations",
    [
        # --- API: regions
        listing("api:region-list", target="region", visible_to=REGION_VIEWERS),
        detail("api:region-detail", target="region", visible_to=REGION_VIEWERS),
        # --- API: departments
        listing("api:department-list", target="department", visible_to=DEPARTMENT_VIEWERS),
        detail("api:department-detail", target="department", visible_to=DEPARTMENT_VIEWERS),
        action(
            "api:department-detail",
            "patch",
            target="department",
            visible_to=DEPARTMENT_VIEWERS,
            data=lambda w: {"contact_phone": "110-0000"},
            probe=department_phone,
        ),
        action(
            "api:department-members",
            "post",
            target="department",
            visible_to=DEPARTMENT_VIEWERS,
            success=201,
            data=lambda w: {"username": w.newcomer.username, "role": Role.STAFF},
            probe=newcomer_seated,
        ),
        action(
            "api:department-grants",
            "post",
            target="department",
            visible_to=DEPARTMENT_VIEWERS,
            success=201,
            data=lambda w: {"grantee": w.other_region_department.pk},
            probe=department_grants,
        ),
        action(
            "api:department-grants",
            "delete",
            target="department",
            visible_to=DEPARTMENT_VIEWERS,
            success=204,
            data=lambda w: {"grantee": w.guardian_department.pk},
            probe=department_grants,
        ),
        # --- API: memberships
        listing("api:membership-list", target="membership", visible_to=MEMBERSHIP_VIEWERS),
        detail("api:membership-detail", target="membership", visible_to=MEMBERSHIP_VIEWERS),
        action(
            "api:membership-detail",
            "delete",
            target="membership",
            visible_to=MEMBERSHIP_VIEWERS,
            success=204,
            probe=membership_exists,
        ),
        # --- API: agreements and leading groups
        listing("api:agreement-list", target="agreement", visible_to=AGREEMENT_VIEWERS),
        detail("api:agreement-detail", target="agreement", visible_to=AGREEMENT_VIEWERS),
        listing("api:leading-group-list", target="leading_group", visible_to=LEADING_GROUP_VIEWERS),
        detail("api:leading-group-detail", target="leading_group", visible_to=LEADING_GROUP_VIEWERS),
        # --- API: ledger (heads; looked up by seq)
        listing(
            "api:audit-event-list",
            role=Role.HEAD,
            target="audit_event",
            lookup="seq",
            id_key="seq",
            visible_to=LEDGER_VIEWERS,
        ),
        detail(
            "api:audit-event-detail",
            role=Role.HEAD,
            target="audit_event",
            lookup="seq",
            url_kwarg="seq",
            id_key="seq",
            visible_to=LEDGER_VIEWERS,
        ),
        # --- API: integration keys (heads of the key's department)
        listing("api:integration-key-list", role=Role.HEAD, target="integration_key", visible_to=KEY_VIEWERS),
        detail("api:integration-key-detail", role=Role.HEAD, target="integration_key", visible_to=KEY_VIEWERS),
        action(
            # The department comes in the body: seeing it but not managing it is 403, not seeing it 404.
            "api:integration-key-list",
            "post",
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            success=201,
            data=lambda w: {"name": "New-Key", "department": w.department.pk},
            probe=department_keys,
            denial_target=lambda w: w.department,
        ),
        action(
            "api:integration-key-revoke",
            "post",
            target="integration_key",
            visible_to=KEY_VIEWERS,
            probe=key_revoked,
        ),
        # --- API: the caller
        listing("api:me", check_extra=me_is_the_caller),
        # --- Portal
        listing(
            "portal:dashboard",
            marker=lambda w: w.department.name,
            visible_to={S.IN_SCOPE},
            note="the dashboard names only the caller's own departments",
        ),
        listing("portal:region-list", marker=lambda w: w.region.name, visible_to=REGION_VIEWERS),
        listing("portal:department-list", marker=lambda w: w.department.name, visible_to=DEPARTMENT_VIEWERS),
        detail(
            "portal:department-detail",
            target="department",
            visible_to=DEPARTMENT_VIEWERS,
            # the page lists the department's members, which only the department itself may see
            marker=lambda w: w.membership.user.display_name,
            shows_marker_to=MEMBERSHIP_VIEWERS,
        ),
        action(
            "portal:department-detail",
            "post",
            target="department",
            visible_to=DEPARTMENT_VIEWERS,
            success=302,
            data=lambda w: {"name": w.department.name, "contact_phone": "110-0000"},
            probe=department_phone,
        ),
        listing("portal:agreement-list", marker=lambda w: w.agreement.title, visible_to=AGREEMENT_VIEWERS),
        listing("portal:leading-group-list", marker=lambda w: w.leading_group.name, visible_to=LEADING_GROUP_VIEWERS),
        listing(
            "portal:ledger-list",
            role=Role.HEAD,
            marker=lambda w: w.audit_event.hash,
            visible_to=LEDGER_VIEWERS,
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
