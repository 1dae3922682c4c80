"""Permission matrix for the data-pool portal pages (/data/…).

The targets come from tests/matrix/datapool_world.py (shared with the API matrix): `pool_dataset`
(internal) of the target department with `pool_job` loaded into it (good and rejected rows).

Who sees what: standards are discoverable by every seated state; the internal dataset's metadata
(catalog, detail page) by the owner's region line (IN_SCOPE, LOWER_ROLE, SAME_REGION_OTHER_DEPT:
no agreement opens province A's catalog to the B1 states, and a department grant opens nothing
of the pool); a secret dataset only by the owner department. Its
records, loads, rejected rows and usage (asset register) belong to the owner department: IN_SCOPE
and LOWER_ROLE; everyone else gets 404 on them, even those who see the dataset (records of a
dataset one may not read are as if the page did not exist). Managing it (edit, upload) is for the
owner's heads and data stewards: IN_SCOPE; those who see the dataset but may not manage it get
403. Registering a dataset names an owner department: unseen 404, seen but not theirs 403.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.core.permissions import Role
from apps.datapool.demo import csv_bytes, resident_rows
from apps.datapool.models import Dataset, IngestionJob, SyncSource
from tests.matrix import datapool_world  # noqa: F401  (registers the pool_* world objects)
from tests.matrix.harness import AUTHENTICATED, State, action, cases, check, detail, listing
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State

SEATED = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.OTHER_REGION, S.GUARDIAN_GRANT, S.REVOKED_GRANT}
SEATED_STAFF = SEATED - {S.LOWER_ROLE}  # for routes whose acting role is staff (no LOWER_ROLE state)
# who discovers the internal dataset: its owner's region line
DISCOVERERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT}
DISCOVERERS_STAFF = DISCOVERERS - {S.LOWER_ROLE}
OWNER = {S.IN_SCOPE, S.LOWER_ROLE}  # the target department, any role: records, loads, usage
MANAGERS = {S.IN_SCOPE}  # the target department's heads and stewards
# A department is visible to its whole city and, through a grant, to the grantee.
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.GUARDIAN_GRANT}


def dataset_with_records(w):
    """`pool_dataset` once `pool_job` has loaded its rows."""
    assert w.pool_job
    return w.pool_dataset


def secret_visible_only_to_the_owner(w, state, user, response):
    """The secret dataset of the same department: the owner sees it, nobody else does."""
    if user is None:
        return
    client = Client()
    client.force_login(user)
    got = client.get(reverse("portal:dataset-detail", args=[w.pool_secret_dataset.pk])).status_code
    assert got == (200 if state in OWNER else 404), f"secret dataset as {state.value}: {got}"


def fused_rows_only_for_readers(w, state, user, response):
    shown = 'class="card fused-row"' in response.content.decode()
    assert shown == (state in OWNER), f"fused rows as {state.value}: {'shown' if shown else 'missing'}"


def sync_source_listed(w, state, user, response):
    if response.status_code == 200:
        assert w.pool_sync_source.name in response.content.decode()


def sync_form(w):
    from tests.matrix.datapool_world import SOURCE_COLUMNS, SOURCE_TABLE, source_url

    return {
        "name": "Pool-Matrix-Source",
        "url": source_url(),
        "table": SOURCE_TABLE,
        "cursor_column": "id",
        "interval_minutes": "60",
        **{f"col_{field}": column for field, column in SOURCE_COLUMNS.items()},
    }


def sync_sources_of(w):
    return SyncSource.objects.filter(dataset=w.pool_dataset).count()


def sync_jobs_of(w):
    return IngestionJob.objects.filter(dataset=w.pool_dataset, channel="sync").count()


def share_form(w):
    return {"target": w.pool_group_dataset.pk, "shared_fields": ["id_number", "name", "age"]}


def shares_into_the_pool(w):
    return IngestionJob.objects.filter(dataset=w.pool_group_dataset, channel="share").count()


def title_of(w):
    return Dataset.objects.values_list("title", flat=True).get(pk=w.pool_dataset.pk)


def jobs_of(w):
    return IngestionJob.objects.filter(dataset=w.pool_dataset).count()


def datasets_of(w):
    return Dataset.objects.filter(owner=w.department).count()


def create_form(w):
    return {
        "owner": w.department.pk,
        "standard": w.pool_standard.pk,
        "title": "Pool-Matrix-Created",
        "source_kind": "department",
        "classification": "internal",
        "update_frequency": "daily",
    }


def update_form(w):
    return {
        "title": "Pool-Matrix-Renamed",
        "description": "",
        "source_kind": "base",
        "classification": "internal",
        "update_frequency": "daily",
    }


def upload_form(w):
    data = csv_bytes(resident_rows(2, seed=97))
    return {"file": SimpleUploadedFile("matrix.csv", data, content_type="text/csv"), "step": "load"}


ROUTES = register(
    "datapool-portal",
    [
        # --- the catalog and one dataset: metadata for the owner's region line
        listing(
            "portal:dataset-list",
            marker=lambda w: w.pool_dataset.title,
            visible_to=DISCOVERERS_STAFF,
        ),
        detail(
            "portal:dataset-detail",
            role=Role.STEWARD,
            target="pool_dataset",
            visible_to=DISCOVERERS,
            # the upload button is on the page only for the owner's heads and stewards
            marker=lambda w: reverse("portal:dataset-upload", kwargs={"pk": w.pool_dataset.pk}),
            shows_marker_to=MANAGERS,
            check_extra=secret_visible_only_to_the_owner,
        ),
        listing(
            "portal:dataset-create",
            role=Role.STEWARD,
            marker=lambda w: f">{w.department.name}</option>",
            visible_to=MANAGERS,
            note="the owner select offers only the departments the caller may publish for",
        ),
        action(
            "portal:dataset-create",
            "post",
            role=Role.STEWARD,
            target="department",
            on_object=False,
            visible_to=DEPARTMENT_VIEWERS,
            allowed_to=MANAGERS,
            success=302,
            data=create_form,
            probe=datasets_of,
            denial_target=lambda w: w.department,
            note="the owner is checked before the form: unseen 404, seen but not published for 403",
        ),
        action(
            "portal:dataset-update",
            "get",
            role=Role.STEWARD,
            target="pool_dataset",
            visible_to=DISCOVERERS,
            allowed_to=MANAGERS,
            success=200,
        ),
        action(
            "portal:dataset-update",
            "post",
            role=Role.STEWARD,
            target="pool_dataset",
            visible_to=DISCOVERERS,
            allowed_to=MANAGERS,
            success=302,
            data=update_form,
            probe=title_of,
        ),
        # --- records: the owner department only (404 for those who see the dataset too)
        detail(
            "portal:dataset-records",
            role=Role.STEWARD,
            target=dataset_with_records,
            visible_to=OWNER,
            marker=lambda w: f'id="record-{w.pool_record.pk}"',
            shows_marker_to=OWNER,
        ),
        # --- processing over the records: the owner department (404 for the rest, like the records)
        detail(
            "portal:dataset-duplicates",
            role=Role.STEWARD,
            target=dataset_with_records,
            visible_to=OWNER,
        ),
        detail(
            "portal:dataset-diff",
            role=Role.STEWARD,
            target=lambda w: w.pool_second_job and dataset_with_records(w),
            visible_to=OWNER,
            # the two latest loads are compared by default: the later one's number is on the page
            marker=lambda w: f"#{w.pool_second_job.pk}",
            shows_marker_to=OWNER,
        ),
        listing(
            "portal:fused-view",
            role=Role.STEWARD,
            marker=lambda w: w.pool_job and w.pool_dataset.title,
            visible_to=OWNER,
            note="open to everyone logged in; the dataset choices are those whose records the caller may read",
        ),
        action(
            "portal:fused-view",
            "post",
            role=Role.STEWARD,
            target=None,
            on_object=False,
            visible_to=AUTHENTICATED,
            allowed_to=AUTHENTICATED,
            success=200,
            data=lambda w: w.pool_job and {"key_kind": "id_number"},  # the target department's records exist
            check_extra=fused_rows_only_for_readers,
            note="a search (POST keeps ID numbers out of URLs): 200 for all, rows only from readable records",
            events=None,
            events_note="a read of shared data, not a write: one data.read event per dataset whose records it "
            "shows (owners and grantees), none for a caller who reads no records (tests/datapool/test_processing.py)",
        ),
        # --- collection: the owner's heads and stewards
        action(
            "portal:dataset-upload",
            "get",
            role=Role.STEWARD,
            target="pool_dataset",
            visible_to=DISCOVERERS,
            allowed_to=MANAGERS,
            success=200,
        ),
        action(
            "portal:dataset-upload",
            "post",
            role=Role.STEWARD,
            target="pool_dataset",
            visible_to=DISCOVERERS,
            allowed_to=MANAGERS,
            success=302,
            data=upload_form,
            probe=jobs_of,
            note="'Load now' queues one job; the mapping step is covered in tests/portal",
        ),
        # --- database sync and sharing: the owner's heads and stewards
        action(
            "portal:syncsource-list",
            "get",
            role=Role.STEWARD,
            target=lambda w: w.pool_sync_source and w.pool_dataset,
            visible_to=DISCOVERERS,
            allowed_to=MANAGERS,
            success=200,
            check_extra=sync_source_listed,
        ),
        action(
            "portal:syncsource-list",
            "post",
            role=Role.STEWARD,
            target="pool_dataset",
            visible_to=DISCOVERERS,
            allowed_to=MANAGERS,
            success=302,
            data=sync_form,
            probe=sync_sources_of,
            note="the service connects to the scratch source database and reflects its table",
        ),
        action(
            "portal:syncsource-run",
            "post",
            role=Role.STEWARD,
            target="pool_sync_source",
            visible_to=MANAGERS,  # sync sources are seen by the owner's heads and stewards only
            allowed_to=MANAGERS,
            success=302,
            probe=sync_jobs_of,
        ),
        action(
            "portal:syncsource-toggle",
            "post",
            role=Role.STEWARD,
            target="pool_sync_source",
            visible_to=MANAGERS,
            allowed_to=MANAGERS,
            success=302,
            probe=lambda w: SyncSource.objects.values_list("enabled", flat=True).get(pk=w.pool_sync_source.pk),
        ),
        action(
            "portal:dataset-share",
            "get",
            role=Role.STEWARD,
            target="pool_dataset",
            visible_to=DISCOVERERS,
            allowed_to=MANAGERS,
            success=200,
        ),
        action(
            "portal:dataset-share",
            "post",
            role=Role.STEWARD,
            target=dataset_with_records,
            visible_to=DISCOVERERS,
            allowed_to=MANAGERS,
            success=302,
            data=share_form,
            probe=shares_into_the_pool,
            note="into the leading group's pool the target department sits in",
        ),
        # --- loads: the owner department (and the submitting one)
        listing(
            "portal:ingestion-list",
            role=Role.STEWARD,
            marker=lambda w: f'id="job-{w.pool_job.pk}"',
            visible_to=OWNER,
        ),
        detail(
            "portal:ingestion-detail",
            role=Role.STEWARD,
            target="pool_job",
            visible_to=OWNER,
            # the rejected rows are on the page; the upload link only for those who manage the dataset
            marker=lambda w: reverse("portal:dataset-upload", kwargs={"pk": w.pool_dataset.pk}),
            shows_marker_to=MANAGERS,
        ),
        detail(
            "portal:ingestion-progress",
            role=Role.STEWARD,
            target="pool_job",
            visible_to=OWNER,
            marker=lambda w: 'class="rows-rejected"',
            shows_marker_to=OWNER,
        ),
        detail(
            "portal:ingestion-rejects-csv",
            role=Role.STEWARD,
            target="pool_job",
            visible_to=OWNER,
            note="a streamed CSV: its rows are checked in tests/portal",
        ),
        # --- the asset register: the owner department (and the information offices over it)
        listing(
            "portal:asset-register",
            role=Role.STEWARD,
            marker=lambda w: f'id="asset-{w.pool_dataset.pk}"',
            visible_to=OWNER,
        ),
        detail(
            "portal:asset-detail",
            role=Role.STEWARD,
            target="pool_dataset",
            visible_to=OWNER,
        ),
        # --- standards: every seated state
        listing(
            "portal:standard-list",
            marker=lambda w: f'id="standard-{w.pool_standard.pk}"',
            visible_to=SEATED_STAFF,
        ),
        detail(
            "portal:standard-detail",
            target="pool_standard",
            visible_to=SEATED_STAFF,
            # the datasets using it: the internal target dataset, for those who discover it
            marker=lambda w: w.pool_dataset.title,
            shows_marker_to=DISCOVERERS_STAFF,
        ),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
