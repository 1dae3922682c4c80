"""Two tenants for the schema fuzzer, built through the services (so scopes, groups and the ledger
are exactly what production makes).

Each tenant is a province with one city holding an emergency-management department (`department`:
its head, staff and steward are the fuzzing principals) and a peer department. Everything a
tenant owns that no other region may see carries the tenant's marker, a string nothing else in
the world contains: titles of incidents, reports, warnings, tasks, rules, keys, webhooks, the
secret dataset, the purpose of data requests, the names in the records and the display names
of the tenant's people. The fuzzer asserts that a body sent to one tenant's principal never holds
the other tenant's marker.

Objects every member of staff may see by the house rules (dataset metadata other than secret
datasets, the demand board, standards, tags, response plans) carry no marker: they are not
tenant-private. `Tenant.private` lists, per API resource, the ids of the private objects (the
fuzzer also addresses them from the other tenant, which must never get a 2xx); `Tenant.public`
the ids of the tenant's shared objects (addressed too, so details and nested routes are reached).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from apps.access import services as access_services
from apps.access.models import DataGrant
from apps.accounts import services as account_services
from apps.core.permissions import Role
from apps.datapool import services as pool_services
from apps.datapool.choices import Classification
from apps.datapool.demo import csv_bytes, resident_rows, standards_ensure
from apps.datapool.models import IngestionJob
from apps.incidents import services as incident_services
from apps.incidents.choices import Category, IncidentStatus, ReportKind, Severity, Subtype, WarningLevel
from apps.ledger.models import AuditEvent
from apps.monitoring import services as monitoring_services
from apps.monitoring.choices import Aggregate, Comparator, RuleKind, Window
from apps.monitoring.models import Alert
from apps.notifications import services as notification_services
from apps.notifications.models import Notification
from apps.organizations import services as org_services
from apps.organizations.choices import DepartmentType, LeadingGroupKind
from apps.organizations.models import Membership
from apps.reporting import services as reporting_services
from apps.reporting.models import Report
from apps.tasking import services as task_services
from tests import factories as f
from tests.matrix.datapool_world import load
from tests.matrix.monitoring_world import river_csv

# Unique, ASCII, and unlike anything generated data or the schema holds.
MARKERS = {"A": "QzAlphaMark", "B": "QzBravoMark"}
RECORDS = 4


@dataclass
class Tenant:
    label: str
    marker: str
    province: object = None
    city: object = None
    department: object = None
    peer: object = None
    head: object = None
    staff: object = None
    steward: object = None
    key_secret: str = ""
    private: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    public: dict[str, set] = field(default_factory=lambda: defaultdict(set))

    def ids(self, resource: str) -> set:
        """Every id of `resource` this tenant owns, private or shared."""
        return self.private.get(resource, set()) | self.public.get(resource, set())

    def add(self, resource: str, *objects, public: bool = False) -> None:
        target = self.public if public else self.private
        target[resource].update(o if isinstance(o, int) else o.pk for o in objects)


def _member(department, role: str, marker: str, what: str):
    return f.member(department, role, display_name=f"{marker}-{what}")


def tenant_build(label: str) -> Tenant:
    t = Tenant(label=label, marker=MARKERS[label])
    m = t.marker
    admin = f.admin_user()
    first_ledger_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

    # --- organisation -----------------------------------------------------------------------
    t.province = f.region(name=f"Fuzz-Province-{label}")
    t.city = f.region(parent=t.province, name=f"Fuzz-City-{label}")
    t.department = f.department(region=t.city, type=DepartmentType.EMERGENCY, name=f"Fuzz-Emergency-{label}")
    t.peer = f.department(region=t.city, type=DepartmentType.PUBLIC_SECURITY, name=f"Fuzz-Police-{label}")
    data_center = f.department(region=t.city, type=DepartmentType.RESEARCH, name=f"Fuzz-Data-Center-{label}")
    t.head = _member(t.department, Role.HEAD, m, "head")
    t.staff = _member(t.department, Role.STAFF, m, "staff")
    t.steward = _member(t.department, Role.STEWARD, m, "steward")
    peer_head = _member(t.peer, Role.HEAD, m, "peer-head")
    peer_steward = _member(t.peer, Role.STEWARD, m, "peer-steward")
    t.add("regions", t.province, t.city)
    t.add("departments", t.department, t.peer, data_center)
    t.add("memberships", *Membership.objects.filter(department__in=[t.department, t.peer, data_center]))
    group = org_services.leading_group_create(
        actor=admin,
        name=f"{m} leading group",
        kind=LeadingGroupKind.STANDING,
        regions=[t.province],
        information_office=t.peer,
        big_data_center=data_center,
        members=[t.department],
    )
    t.add("leading-groups", group)
    key, t.key_secret = account_services.integration_key_create(actor=t.head, department=t.department, name=f"{m} key")
    t.add("integration-keys", key)
    t.add("memberships", *Membership.objects.filter(user=key.user))
    endpoint = notification_services.webhook_endpoint_create(
        actor=t.head, department=t.department, name=f"{m} webhook", url="https://hooks.example.com/fuzz"
    )
    t.add("notifications/webhook-endpoints", endpoint)

    # --- incidents ----------------------------------------------------------------------------
    now = timezone.now()
    incident = incident_services.incident_report(
        actor=t.staff,
        department=t.department,
        title=f"{m} flood",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        place=f"{m} river bank",
        first_seen_at=now - timedelta(minutes=30),
        regions=[t.city],
    )
    report = incident_services.report_submit(
        actor=t.staff, incident=incident, department=t.department, kind=ReportKind.INITIAL, text=f"{m} first report"
    )
    warning = incident_services.warning_draft(
        actor=t.staff,
        issuer=t.department,
        region=t.city,
        level=WarningLevel.YELLOW,
        title=f"{m} warning",
        area=f"{m} river bank",
        starts_at=now,
        expected_hours=24,
        measures=f"{m} keep away",
        incident=incident,
    )
    t.add("incidents", incident)
    t.add("situation-reports", report)
    t.add("warnings", warning)
    consolidated = reporting_services.report_generate(
        report_id=reporting_services.report_request(actor=t.head, incident=incident).pk
    )
    closed = incident_services.incident_report(
        actor=t.staff,
        department=t.department,
        title=f"{m} closed fire",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.IV,
        place=f"{m} hill",
        first_seen_at=now - timedelta(hours=3),
        regions=[t.city],
    )
    closed = incident_services.incident_set_status(actor=t.head, incident=closed, status=IncidentStatus.CLOSED)
    review = Report.objects.get(incident=closed, kind="review")
    reporting_services.report_generate(report_id=review.pk)  # what the close task does, in-process
    archive = reporting_services.archive_freeze(incident_id=closed.pk)
    t.add("incidents", closed)
    t.add("reports", consolidated, review)
    t.add("archives", archive)

    # --- tasks ----------------------------------------------------------------------------------
    [task] = task_services.task_dispatch(
        actor=peer_head,
        issuer_department=t.peer,
        departments=[t.department],
        title=f"{m} task in",
        deadline=now + timedelta(hours=4),
        instructions=f"{m} instructions",
        incident=incident,
    )
    task_services.task_comment(actor=t.staff, task=task, body=f"{m} comment")
    [outgoing] = task_services.task_dispatch(
        actor=t.head,
        issuer_department=t.department,
        departments=[t.peer],
        title=f"{m} task out",
        deadline=now + timedelta(hours=6),
    )
    t.add("tasks", task, outgoing)

    # --- data pool ------------------------------------------------------------------------------
    standards = standards_ensure()
    dataset = pool_services.dataset_create(
        actor=t.steward,
        owner=t.department,
        standard=standards["resident"],
        title=f"Fuzz residents {label}",  # catalog metadata is discoverable everywhere: no marker
        classification=Classification.INTERNAL,
    )
    rows = resident_rows(RECORDS, seed=5, bad=1)
    for row in rows[1:]:
        row[1] = f"{m}{row[1]}"  # the name column: records are read by the owner (and grantees) only
    job = load(t.steward, dataset, csv_bytes(rows), name=f"fuzz-{label}.csv")
    assert job.status == "succeeded", job.error_message()
    secret = pool_services.dataset_create(
        actor=t.steward,
        owner=t.department,
        standard=standards["resident"],
        title=f"{m} secret residents",
        classification=Classification.SECRET,
    )
    pool_services.mapping_save(
        actor=t.steward, dataset=dataset, name=f"{m} mapping", columns={"id_number": "身份证号", "name": "姓名"}
    )
    t.add("datasets", dataset, public=True)
    t.add("datasets", secret)
    t.add("jobs", *IngestionJob.objects.filter(dataset__owner=t.department))

    river = pool_services.dataset_create(
        actor=t.steward, owner=t.department, standard=standards["river-level"], title=f"Fuzz river {label}"
    )
    job = load(t.steward, river, river_csv(t.city.code, [8.5, 8.7]), name=f"river-{label}.csv")
    assert job.status == "succeeded", job.error_message()
    t.add("datasets", river, public=True)
    t.add("jobs", job)
    rule = monitoring_services.rule_create(
        actor=t.steward,
        department=t.department,
        dataset=river,
        name=f"{m} rule",
        kind=RuleKind.THRESHOLD,
        field="level_m",
        aggregate=Aggregate.MAX,
        comparator=Comparator.GE,
        threshold=8.0,
        window=Window.DAY,
        level="orange",
        notify_departments=[t.peer],
    )
    monitoring_services.rule_evaluate(rule_id=rule.pk)
    t.add("monitoring-rules", rule)
    t.add("alerts", *Alert.objects.filter(rule=rule))

    # --- data access (inside the tenant: its peer asks for its dataset) -------------------------
    request_values = {
        "actor": peer_steward,
        "department": t.peer,
        "dataset": dataset,
        "fields": ["name", "age"],
        "masked_fields": ["id_number", "phone"],
        "legal_basis": f"{m} basis",
        "duration_hours": 72,
    }
    granted = access_services.request_create(**request_values, purpose=f"{m} granted purpose")
    granted = access_services.request_decide(actor=t.head, request=granted, decision="approve")
    pending = access_services.request_create(**request_values, purpose=f"{m} pending purpose")
    peer_dataset = pool_services.dataset_create(
        actor=peer_steward, owner=t.peer, standard=standards["resident"], title=f"Fuzz peer residents {label}"
    )
    t.add("datasets", peer_dataset, public=True)
    own = access_services.request_create(
        **(request_values | {"actor": t.steward, "department": t.department, "dataset": peer_dataset}),
        purpose=f"{m} own purpose",
        submit=False,
    )
    t.add("data-requests", granted, pending, own)
    t.add("data-grants", *DataGrant.objects.filter(request=granted))
    demand = access_services.demand_post(
        actor=t.steward, department=t.department, title=f"Fuzz demand {label}", standard_code="resident"
    )
    t.add("data-demands", demand, public=True)
    subscription = access_services.subscribe(actor=t.steward, department=t.department, dataset=dataset)
    t.add("subscriptions", subscription)

    # --- what the tenant's changes left behind ------------------------------------------------
    t.add("notifications", *Notification.objects.filter(department__in=[t.department, t.peer]))
    t.add(
        "ledger/events",
        *AuditEvent.objects.filter(seq__gt=first_ledger_seq, region_path__startswith=t.province.path).values_list(
            "seq", flat=True
        ),
    )
    return t


@dataclass
class FuzzWorld:
    a: Tenant
    b: Tenant

    def other(self, tenant: Tenant) -> Tenant:
        return self.b if tenant is self.a else self.a


def world_build() -> FuzzWorld:
    return FuzzWorld(a=tenant_build("A"), b=tenant_build("B"))
