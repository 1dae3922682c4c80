"""Selectors: whose catalog metadata a member of staff may discover (`Dataset.restrict("view")`).

Open datasets: all staff. Internal and sensitive ones: the owner's region line (the region, the
regions above it and those below), partner regions whose active agreement shares the catalog,
the information offices over the owner, the members of the leading group whose pool it is, and
departments holding a valid grant. Secret ones: the owner and the information offices only.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.access import services as access
from apps.core.exceptions import AccessDenied
from apps.core.permissions import Role
from apps.datapool import selectors, services
from apps.datapool.choices import Classification
from apps.datapool.demo import standards_ensure
from apps.organizations import services as orgs
from apps.organizations.choices import AgreementStatus, DepartmentType, LeadingGroupKind
from apps.organizations.models import Membership
from tests.access.world import access_world
from tests.factories import admin_user, department, member, region

pytestmark = pytest.mark.django_db

LEVELS = ("open", "internal", "sensitive", "secret")


@pytest.fixture
def cat():
    """Province A (city A1 with county A1a, city A2) and province B (city B1); public security of
    A1 owns one dataset per classification."""
    standards = standards_ensure()
    a = region(name="省A")
    a1 = region(parent=a, name="市A1")
    a1a = region(parent=a1, name="县A1a")
    a2 = region(parent=a, name="市A2")
    b = region(name="省B")
    b1 = region(parent=b, name="市B1")
    owner = department(region=a1, type=DepartmentType.PUBLIC_SECURITY)
    steward = member(owner, Role.STEWARD)
    datasets = {
        level: services.dataset_create(
            actor=steward, owner=owner, standard=standards["resident"], title=f"常住人口-{level}", classification=level
        )
        for level in LEVELS
    }
    return {
        "a": a,
        "a1": a1,
        "b": b,
        "b1": b1,
        "owner": owner,
        "datasets": datasets,
        "standards": standards,
        "a1_health": member(department(region=a1, type=DepartmentType.HEALTH)),
        "a_province": member(department(region=a)),
        "a1a_county": member(department(region=a1a)),
        "a2_city": member(department(region=a2)),
        "b1_dept": department(region=b1, type=DepartmentType.HEALTH),
    }


def seen(user, cat) -> set[str]:
    """The classifications of the owner's datasets that `user` discovers in the catalog."""
    ids = set(selectors.dataset_catalog(user=user).values_list("pk", flat=True))
    return {level for level, d in cat["datasets"].items() if d.pk in ids}


def b1_staff(cat):
    return member(cat["b1_dept"])  # a fresh user: no cached principal from before the agreement


def agreement(cat, *, status=AgreementStatus.ACTIVE, valid_from=None, valid_until=None, **flags):
    admin = admin_user()
    made = orgs.agreement_create(
        actor=admin,
        title="A-B 协议",
        parties=[cat["a"], cat["b"]],
        valid_from=valid_from or timezone.now() - timedelta(days=1),
        valid_until=valid_until,
        **flags,
    )
    steps = {
        AgreementStatus.DRAFT: [],
        AgreementStatus.ACTIVE: [AgreementStatus.ACTIVE],
        AgreementStatus.SUSPENDED: [AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED],
        AgreementStatus.TERMINATED: [AgreementStatus.ACTIVE, AgreementStatus.TERMINATED],
    }[status]
    for step in steps:
        made = orgs.agreement_set_status(actor=admin, agreement=made, status=step)
    return made


def test_the_owners_region_line_discovers_everything_but_secret_metadata(cat):
    assert seen(cat["a1_health"], cat) == {"open", "internal", "sensitive"}  # same city, other department
    assert seen(cat["a_province"], cat) == {"open", "internal", "sensitive"}  # the province above
    assert seen(cat["a1a_county"], cat) == {"open", "internal", "sensitive"}  # a county below


def test_the_owner_discovers_its_secret_dataset(cat):
    assert seen(member(cat["owner"]), cat) == set(LEVELS)


def test_outside_the_owners_region_line_only_open_datasets_are_discoverable(cat):
    # a sibling city of the same province, and a city of another province without an agreement
    assert seen(cat["a2_city"], cat) == {"open"}
    assert seen(b1_staff(cat), cat) == {"open"}


def test_an_agreement_sharing_the_catalog_opens_internal_and_sensitive_metadata_not_secret(cat):
    agreement(cat, share_catalog=True)
    staff = b1_staff(cat)
    assert seen(staff, cat) == {"open", "internal", "sensitive"}
    # metadata only: the records stay the owner's
    with pytest.raises(AccessDenied):
        selectors.dataset_records(user=staff, dataset=cat["datasets"]["internal"])


def test_an_agreement_not_sharing_the_catalog_opens_only_what_it_shares(cat):
    agreement(cat, share_catalog=False)
    staff = b1_staff(cat)
    assert cat["owner"] in set(orgs.Department.objects.restrict(staff, "view"))  # the directory is shared
    assert seen(staff, cat) == {"open"}


@pytest.mark.parametrize("state", ["draft", "expired", "not_yet", "suspended", "terminated"])
def test_an_agreement_out_of_force_opens_no_catalog(cat, state):
    now = timezone.now()
    kwargs = {
        "draft": {"status": AgreementStatus.DRAFT},
        "expired": {"valid_from": now - timedelta(days=10), "valid_until": now - timedelta(days=1)},
        "not_yet": {"valid_from": now + timedelta(days=1)},
        "suspended": {"status": AgreementStatus.SUSPENDED},
        "terminated": {"status": AgreementStatus.TERMINATED},
    }[state]
    agreement(cat, share_catalog=True, **kwargs)
    assert seen(b1_staff(cat), cat) == {"open"}


def test_the_members_of_a_pools_leading_group_discover_the_pool_nothing_else(cat):
    # Given: a leading group across A1 and B1, and the owner's sensitive pool for it
    group = orgs.leading_group_create(
        actor=admin_user(),
        name="长江联防组",
        kind=LeadingGroupKind.STANDING,
        regions=[cat["a1"], cat["b1"]],
        information_office=department(region=cat["a"]),
        big_data_center=department(region=cat["a"], type=DepartmentType.BIG_DATA_COMPANY),
        members=[cat["owner"], cat["b1_dept"]],
    )
    pool = services.dataset_create(
        actor=member(cat["owner"], Role.STEWARD),
        owner=cat["owner"],
        standard=cat["standards"]["resident"],
        title="联防共享池",
        classification=Classification.SENSITIVE,
        leading_group=group,
    )

    # Then: B1, a member, discovers the pool but not the owner's other non-open data
    staff = b1_staff(cat)
    assert selectors.dataset_catalog(user=staff).filter(pk=pool.pk).exists()
    assert seen(staff, cat) == {"open"}


def test_a_valid_grant_opens_the_metadata_of_its_dataset_after_the_agreement_ends():
    # Given: a department of another province obtains a grant while an agreement shares the catalog
    a = access_world()
    far = Membership.objects.get(user=a.stranger).department
    made = agreement({"a": a.pool.province, "b": far.region}, share_catalog=True)
    dataset = a.pool.dataset
    req = access.request_create(
        actor=a.stranger,
        department=far,
        dataset=dataset,
        fields=["name"],
        purpose="核查转移人员",
        legal_basis="《突发事件应对法》",
        duration_hours=24,
    )
    req = access.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    req = access.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)
    assert req.status == "granted"

    # When: the agreement is suspended, the grant still shows the dataset (and only it)
    orgs.agreement_set_status(actor=admin_user(), agreement=made, status=AgreementStatus.SUSPENDED)
    stranger = type(a.stranger).objects.get(pk=a.stranger.pk)
    assert set(selectors.dataset_catalog(user=stranger).filter(owner=a.pool.owner)) == {dataset}

    # Then: once revoked, nothing of the owner's is discoverable any more
    access.grant_revoke(actor=a.pool.head, grant=req.grant, reason="事件已结束")
    stranger = type(a.stranger).objects.get(pk=a.stranger.pk)
    assert not selectors.dataset_catalog(user=stranger).filter(owner=a.pool.owner).exists()
