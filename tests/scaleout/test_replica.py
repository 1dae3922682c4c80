"""The read replica (decision 0014): reads go to the `replica` alias only inside `replica_reads()`.

The test settings define `replica` as a read-only mirror of the test database (a real second
connection to the same PostgreSQL database, opened with `default_transaction_read_only`), with the
router off for the rest of the suite. These tests turn the production router on, and are
transactional: the replica's connection sees only committed rows, as a streaming standby would.
Which connection ran a query is read from each connection's own query log.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

import pytest
from django.contrib.sessions.models import Session
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.core.db import PIN_COOKIE, ReplicaRouter, replica_reads
from apps.incidents.models import Incident
from apps.incidents.selectors import incident_list
from apps.ledger.selectors import ledger_verify
from apps.reporting import services as reporting
from apps.reporting.choices import JobStatus
from apps.reporting.models import Report
from config.settings import base
from tests.incidents.world import SHANGHAI, build_world, commander, report_incident

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@pytest.fixture
def replica_router(settings):
    """The production routers (config/settings/base.py), on for this test only."""
    assert base.DATABASE_ROUTERS == ["apps.core.db.ReplicaRouter"]
    settings.DATABASE_ROUTERS = base.DATABASE_ROUTERS


@pytest.fixture
def world(replica_router):
    w = build_world()
    incident = report_incident(w, title="长江A1段洪水", now=datetime.now(SHANGHAI))
    return w, incident


@contextmanager
def captured():
    """The SQL each connection ran in the block: (primary, replica)."""
    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
    ):
        yield primary, replica


def touching(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries if f'"{table}"' in q["sql"]]


def test_inside_the_scope_a_list_selector_reads_the_replica(world):
    w, incident = world
    user = w.user(w.em_a1)

    with captured() as (primary, replica), replica_reads():
        rows = list(incident_list(user=user))

    assert [r.pk for r in rows] == [incident.pk]
    assert rows[0]._state.db == "replica"
    assert touching(replica, "incidents_incident")
    assert not touching(primary, "incidents_incident")


def test_outside_the_scope_every_read_goes_to_the_primary(world):
    w, incident = world
    user = w.user(w.em_a1)

    with captured() as (primary, replica):
        rows = list(incident_list(user=user))

    assert [r.pk for r in rows] == [incident.pk]
    assert touching(primary, "incidents_incident")
    assert replica.captured_queries == []


def test_inside_the_scope_a_service_writes_and_reads_back_on_the_primary(world):
    w, _incident = world
    before = Incident.objects.count()

    with captured() as (primary, replica), replica_reads():
        created = report_incident(w, title="第二起洪水", now=datetime.now(SHANGHAI))

    assert Incident.objects.count() == before + 1 and created.title == "第二起洪水"
    assert [q for q in primary.captured_queries if q["sql"].startswith('INSERT INTO "incidents_incident"')]
    # the service's transaction read (and locked) what it needed on the primary: nothing reached the replica
    assert replica.captured_queries == []


def test_an_object_read_from_the_replica_is_saved_to_the_primary_and_follows_it_outside_the_scope(world):
    w, incident = world

    with replica_reads():
        on_replica = Incident.objects.get(pk=incident.pk)
    assert on_replica._state.db == "replica"

    with captured() as (primary, replica):
        on_replica.place = "北岸江堤"
        on_replica.save(update_fields=["place"])  # the replica connection is read-only: this would fail there
        regions = list(on_replica.regions.all())  # a related read outside the scope: the primary

    assert Incident.objects.get(pk=incident.pk).place == "北岸江堤"
    assert regions and touching(primary, "organizations_region")
    assert replica.captured_queries == []


def test_authentication_state_is_read_from_the_primary_inside_the_scope(world, client):
    w, _incident = world
    user = w.user(w.em_a1)
    client.force_login(user)

    with captured() as (primary, replica), replica_reads():
        assert Session.objects.filter(session_key=client.session.session_key).exists()
        assert type(user).objects.filter(pk=user.pk).exists()

    assert touching(primary, "django_session") and touching(primary, "accounts_user")
    assert replica.captured_queries == []


def test_ledger_verification_reads_the_primary_even_inside_a_replica_scope(world):
    with captured() as (primary, replica), replica_reads():
        result = ledger_verify()

    assert result.ok and result.events > 0
    assert touching(primary, "ledger_auditevent")
    assert replica.captured_queries == []


def test_the_list_page_and_the_api_list_read_the_replica_and_the_detail_page_the_primary(world, client):
    w, incident = world
    client.force_login(w.user(w.em_a1))

    with captured() as (primary, replica):
        page = client.get(reverse("portal:incident-list"))
    assert page.status_code == 200 and incident.title in page.content.decode()
    assert touching(replica, "incidents_incident") and not touching(primary, "incidents_incident")
    assert touching(primary, "django_session") and not touching(replica, "django_session")

    with captured() as (primary, replica):
        listed = client.get("/api/v1/incidents/")
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["results"]] == [incident.pk]
    assert touching(replica, "incidents_incident") and not touching(primary, "incidents_incident")

    with captured() as (primary, replica):
        detail = client.get(reverse("portal:incident-detail", args=[incident.pk]))
    assert detail.status_code == 200
    assert touching(primary, "incidents_incident")
    assert replica.captured_queries == []


def test_after_a_write_the_client_reads_its_lists_from_the_primary_for_a_few_seconds(world, client, settings):
    w, incident = world
    client.force_login(w.user(w.em_a1))

    # When: the client sends any unsafe request (here a form the service refuses: still a POST)
    posted = client.post(reverse("portal:incident-create"), {})
    assert posted.cookies[PIN_COOKIE]["max-age"] == settings.DATABASE_REPLICA_PIN_SECONDS
    assert posted.cookies[PIN_COOKIE]["httponly"]

    # Then: its next list page reads the primary
    with captured() as (primary, replica):
        page = client.get(reverse("portal:incident-list"))
    assert page.status_code == 200 and incident.title in page.content.decode()
    assert touching(primary, "incidents_incident")
    assert replica.captured_queries == []

    # … and once the cookie has expired, the replica again
    del client.cookies[PIN_COOKIE]
    with captured() as (primary, replica):
        client.get(reverse("portal:incident-list"))
    assert touching(replica, "incidents_incident")


def test_a_get_sets_no_pin_cookie(world, client):
    w, _incident = world
    client.force_login(w.user(w.em_a1))
    assert PIN_COOKIE not in client.get(reverse("portal:incident-list")).cookies


def test_a_report_snapshot_is_read_from_the_replica_and_the_result_written_to_the_primary(world):
    w, incident = world
    from apps.incidents import services as incidents

    incidents.report_submit(
        actor=w.user(w.em_a1),
        incident=incident,
        department=w.em_a1,
        kind="initial",
        text="江堤出现管涌",
        evacuated=120,
        late_reason="通信中断",
    )

    # When: a report is requested; after the commit the (eager) job generates it
    with captured() as (primary, replica):
        with transaction.atomic():
            report = reporting.report_request(actor=commander(w), incident=incident)

    # Then: the snapshot's reads went to the replica, the claim, files and status to the primary
    report = Report.objects.get(pk=report.pk)
    assert report.status == JobStatus.DONE, report.error
    assert report.content["figures"]["evacuated"] == 120  # the committed report is in the snapshot
    assert touching(replica, "incidents_situationreport")
    assert not touching(primary, "incidents_situationreport")
    assert [q for q in primary.captured_queries if q["sql"].startswith('UPDATE "reporting_report"')]
    assert not [q for q in replica.captured_queries if not q["sql"].startswith("SELECT")]


def test_the_router_never_migrates_the_replica_and_writes_only_to_the_primary():
    router = ReplicaRouter()
    assert router.allow_migrate("replica", "incidents") is False
    assert router.allow_migrate("default", "incidents") is None
    with replica_reads():
        assert router.db_for_write(Incident) == "default"


def test_inside_an_open_transaction_reads_stay_on_the_primary(world):
    """A read inside an open transaction on the primary stays there, scope or not: it sees its own write."""
    w, incident = world
    with captured() as (primary, replica), replica_reads(), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(place="临时")
        assert Incident.objects.get(pk=incident.pk).place == "临时"  # its own write, read back
        transaction.set_rollback(True)
    assert replica.captured_queries == []
    assert Incident.objects.get(pk=incident.pk).place != "临时"
