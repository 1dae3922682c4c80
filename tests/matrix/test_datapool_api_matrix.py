"""Permission matrix for the data-pool API (/api/v1/standards/, tags/, datasets/, jobs/, assets/,
sync-sources/, fused/).

The targets come from `datapool_world`: `pool_dataset` (internal) and `pool_secret_dataset` of the
target department, its load `pool_job` with records and rejects, a mapping, a day of use.

Who sees what: standards are discoverable by every seated state. The metadata of an internal
dataset (the catalog entry, its quality history) stays in the owner's region line: IN_SCOPE,
LOWER_ROLE and SAME_REGION_OTHER_DEPT; the B1 states (no agreement sharing the catalog with A, and
a department grant opens nothing of the pool) and a user with no seat get 404. A secret
dataset, the records, the loads, the rejects, the mappings and the usage belong to the target
department: IN_SCOPE (a steward) and LOWER_ROLE (staff). A dataset one may discover answers its
records and usage routes with 404, exactly like a nonexistent dataset (and the refusal is
recorded); its mappings list answers 200 without the target department's mappings.

Database sync sources are seen and managed by the owner's stewards and heads only (IN_SCOPE): its
staff get 404 like everyone else. Duplicates and diffs read records (the owner department); the
fused view covers only datasets whose records the caller may read (an empty list for the others).
Sharing records out of the target dataset (into `pool_group_dataset`, the pool of a leading group
the target department sits in) is for the owner's stewards and heads.

Who may act: metadata, mappings and uploads are for the owner's stewards and heads (IN_SCOPE);
reporting records is for anyone of the owner department (integration keys act as staff), so
IN_SCOPE and LOWER_ROLE. Everyone else who sees the dataset gets 403; the rest 404.
"""

from dataclasses import dataclass, fields

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core.permissions import Role
from apps.datapool.demo import csv_bytes, resident_rows
from apps.datapool.models import ColumnMapping, Dataset, IngestionJob, SyncSource
from apps.ledger.models import AuditEvent
from tests.matrix import datapool_world  # noqa: F401  (registers the pool_* world objects)
from tests.matrix.harness import (
    AUTHENTICATED,
    GHOST_ID,
    HIDDEN,
    Route,
    State,
    action,
    cases,
    check,
    detail,
    listing,
    states_for,
)
from tests.matrix.registry import register

pytestmark = pytest.mark.django_db

S = State
ROLE = Role.STEWARD  # every route: LOWER_ROLE is the target department's staff

SEATED = frozenset(states_for(ROLE)) - {S.ANONYMOUS, S.NO_ROLE}  # discover standards
# discover internal metadata: the owner's region line (no agreement opens province A's catalog)
DISCOVERERS = SEATED - {S.OTHER_REGION, S.GUARDIAN_GRANT, S.REVOKED_GRANT}
UNDISCOVERED = AUTHENTICATED - DISCOVERERS
OWNERS = {S.IN_SCOPE, S.LOWER_ROLE}  # the target department: records, loads, mappings, usage
STEWARDS = {S.IN_SCOPE}  # metadata, mappings, uploads
DEPARTMENT_VIEWERS = {S.IN_SCOPE, S.LOWER_ROLE, S.SAME_REGION_OTHER_DEPT, S.GUARDIAN_GRANT}
EVERYONE_ELSE_HIDDEN = {s: HIDDEN for s in AUTHENTICATED if s not in OWNERS}


# --- helpers ------------------------------------------------------------------------------------


def _error(response) -> dict:
    return {k: v for k, v in response.json()["error"].items() if k != "request_id"}


def refusal(name: str, owner: str, kwargs=lambda w, pk: {"pk": pk}):
    """check_extra for routes under one object (`owner`, a world attribute): a 404 is that object
    hidden (recorded in the ledger) and answers exactly like a nonexistent id."""

    def check_extra(world, state, user, response):
        if user is None or response.status_code != 404:
            return
        target = getattr(world, owner)
        where = f"{name} as {state.value}"
        assert AuditEvent.objects.filter(
            actor=user, action="access.denied", target_type=target._meta.label_lower, target_id=str(target.pk)
        ).exists(), f"{where}: the refusal on {target!r} was not recorded in the ledger"
        client = APIClient()
        client.force_login(user)
        ghost = client.get(reverse(name, kwargs=kwargs(world, GHOST_ID)))
        assert ghost.status_code == 404, f"{where}: a nonexistent id answers {ghost.status_code}"
        assert _error(ghost) == _error(response), f"{where}: hidden and nonexistent answer differently"

    return check_extra


def on_dataset(w) -> dict:
    return {"pk": w.pool_dataset.pk}


def on_job(w) -> dict:
    return {"pk": w.pool_job.pk}


def nested(name: str, *, target: str, owner: str, kwargs, visible_to, hidden_to=(S.NO_ROLE,), **options):
    """A list under one object: 404 for `hidden_to` (the object, or the collection, is not there for
    them), otherwise 200 holding `target` for `visible_to`."""
    return listing(
        name,
        target=target,
        visible_to=visible_to,
        role=ROLE,
        kwargs=kwargs,
        overrides={s: HIDDEN for s in hidden_to},
        check_extra=refusal(name, owner),
        **options,
    )


@dataclass(frozen=True)
class KeyedRoute(Route):
    """A JSON write sent with an Idempotency-Key header (the harness sends none)."""

    def send(self, client, url, world):
        return client.post(url, self.data(world), format="json", HTTP_IDEMPOTENCY_KEY="matrix-batch-1")


@dataclass(frozen=True)
class DiffRoute(Route):
    """The diff of the target dataset's two loads (their ids go in the query: `data`, which the
    harness builds before it counts the ledger)."""

    def send(self, client, url, world):
        return client.get(url, self.data(world))


@dataclass(frozen=True)
class MultipartRoute(Route):
    """A write sent as a multipart upload (the harness sends JSON)."""

    def send(self, client, url, world):
        return client.post(url, self.data(world), format="multipart")


def as_route(cls, route: Route):
    return cls(**{field.name: getattr(route, field.name) for field in fields(route)})


def jobs_of_dataset(w):
    return IngestionJob.objects.filter(dataset=w.pool_dataset).count()


def datasets_of_department(w):
    return Dataset.objects.filter(owner=w.department).count()


def mappings_of_dataset(w):
    return ColumnMapping.objects.filter(dataset=w.pool_dataset).count()


def jobs_into_group_pool(w):
    assert w.pool_job  # the source holds records to share
    return IngestionJob.objects.filter(dataset=w.pool_group_dataset).count()


def sources_of_dataset(w):
    return SyncSource.objects.filter(dataset=w.pool_dataset).count()


def source_settings(w):
    return SyncSource.objects.values_list("interval_minutes", "enabled").get(pk=w.pool_sync_source.pk)


def dataset_title(w):
    return Dataset.objects.values_list("title", flat=True).get(pk=w.pool_dataset.pk)


def internal_dataset_listed(world, state, user, response):
    """The catalog entry also holds the internal dataset for the owner's region line (the target of
    the entry is the secret one, which only the target department discovers)."""
    if response.status_code != 200:
        return
    listed = {row["id"] for row in response.json()["results"]}
    assert (world.pool_dataset.pk in listed) == (state in DISCOVERERS), f"catalog as {state.value}: internal dataset"


def secret_detail_hidden(world, state, user, response):
    """The secret dataset's detail: the target department only; for the others it does not exist."""
    if user is None:
        return
    client = APIClient()
    client.force_login(user)
    secret = client.get(reverse("api:dataset-detail", kwargs={"pk": world.pool_secret_dataset.pk}))
    assert secret.status_code == (200 if state in OWNERS else 404), f"secret detail as {state.value}"


def rejects_csv_check(world, state, user, response):
    """The CSV holds the rejected row for the owners; for the others the hidden job (see refusal)."""
    if response.status_code == 200:
        text = b"".join(response.streaming_content).decode("utf-8")
        assert text.startswith("\ufeffline,field,reason"), f"rejects.csv as {state.value}: {text[:80]!r}"
        assert len(text.strip().splitlines()) == 1 + datapool_world.POOL_BAD_ROWS
    refusal("api:ingestion-job-rejects-csv", "pool_job")(world, state, user, response)


def batch(w) -> dict:
    names = [f["name"] for f in w.pool_standard.fields]
    rows = resident_rows(2, seed=21)[1:]
    return {"records": [dict(zip(names, row, strict=True)) for row in rows]}


def upload(w) -> dict:
    data = csv_bytes(resident_rows(3, seed=23))
    return {"file": SimpleUploadedFile("matrix.csv", data, content_type="text/csv")}


ROUTES = register(
    "datapool-api",
    [
        # --- standards and tags: metadata for every seated user; tags are a vocabulary
        listing("api:data-standard-list", target="pool_standard", visible_to=SEATED, role=ROLE),
        detail("api:data-standard-detail", target="pool_standard", visible_to=SEATED, role=ROLE),
        listing(
            "api:data-tag-list",
            target="pool_tag",
            lookup="code",
            id_key="code",
            visible_to=AUTHENTICATED,
            role=ROLE,
            note="the tag vocabulary holds no tenant data",
        ),
        # --- the catalog
        listing(
            "api:dataset-list",
            target=lambda w: (w.pool_dataset, w.pool_secret_dataset)[1],  # both exist before the request
            visible_to=OWNERS,
            role=ROLE,
            check_extra=internal_dataset_listed,
        ),
        detail(
            "api:dataset-detail",
            target="pool_dataset",
            visible_to=DISCOVERERS,
            role=ROLE,
            check_extra=secret_detail_hidden,
        ),
        action(
            "api:dataset-list",
            "post",
            target="department",
            on_object=False,
            role=ROLE,
            visible_to=DEPARTMENT_VIEWERS,
            success=201,
            data=lambda w: {
                "department": w.department.pk,
                "standard": w.pool_standard.pk,
                "title": "Matrix-Dataset",
                "owner": w.neighbour.pk,  # ignored: not an input field
                "record_count": 5,  # ignored
            },
            probe=datasets_of_department,
            denial_target=lambda w: w.department,
        ),
        action(
            "api:dataset-detail",
            "patch",
            target="pool_dataset",
            role=ROLE,
            visible_to=DISCOVERERS,
            allowed_to=STEWARDS,
            data=lambda w: {"title": "Matrix-Renamed"},
            probe=dataset_title,
        ),
        # --- records: the owner department only; the others get the dataset's 404
        nested(
            "api:dataset-records",
            target="pool_record",
            owner="pool_dataset",
            kwargs=on_dataset,
            visible_to=OWNERS,
            hidden_to=AUTHENTICATED - OWNERS,
        ),
        as_route(
            KeyedRoute,
            action(
                "api:dataset-records-batch",
                "post",
                target="pool_dataset",
                role=ROLE,
                visible_to=DISCOVERERS,
                allowed_to=OWNERS,
                success=202,
                data=batch,
                probe=jobs_of_dataset,
                note="reporting is for the whole owner department (integration keys act as staff)",
            ),
        ),
        as_route(
            MultipartRoute,
            action(
                "api:dataset-uploads",
                "post",
                target="pool_dataset",
                role=ROLE,
                visible_to=DISCOVERERS,
                allowed_to=STEWARDS,
                success=202,
                data=upload,
                probe=jobs_of_dataset,
            ),
        ),
        # --- mappings, quality, usage
        nested(
            "api:dataset-mappings",
            target="pool_mapping",
            hidden_to=UNDISCOVERED,
            owner="pool_dataset",
            kwargs=on_dataset,
            visible_to=OWNERS,
            note="states that discover the dataset get its mapping list without the owner's mappings",
        ),
        action(
            "api:dataset-mappings",
            "post",
            target="pool_dataset",
            role=ROLE,
            visible_to=DISCOVERERS,
            allowed_to=STEWARDS,
            success=201,
            data=lambda w: {"name": "Matrix-Mapping", "columns": {"id_number": "ID"}},
            probe=mappings_of_dataset,
        ),
        nested(
            "api:dataset-quality",
            hidden_to=UNDISCOVERED,
            target="pool_quality_check",
            owner="pool_dataset",
            kwargs=on_dataset,
            visible_to=DISCOVERERS,
            query={},
        ),
        nested(
            "api:dataset-usage",
            target="pool_use",
            owner="pool_dataset",
            kwargs=on_dataset,
            lookup="department_id",
            id_key="department_id",
            visible_to=OWNERS,
            hidden_to=AUTHENTICATED - OWNERS,
            query={},
        ),
        # --- processing: the owner department reads its records' duplicates and versions; fusion
        # covers the datasets whose records the caller may read (none, for everyone else)
        nested(
            "api:dataset-duplicates",
            target=None,
            owner="pool_dataset",
            kwargs=on_dataset,
            visible_to=OWNERS,
            hidden_to=AUTHENTICATED - OWNERS,
            marker=lambda w: f'"group":"{w.pool_duplicate_group}"',
            query={},
        ),
        as_route(
            DiffRoute,
            nested(
                "api:dataset-diff",
                target=None,
                owner="pool_dataset",
                kwargs=on_dataset,
                visible_to=OWNERS,
                hidden_to=AUTHENTICATED - OWNERS,
                marker=lambda w: f'"new_job":{w.pool_second_job.pk}',
                data=lambda w: {"old": w.pool_job.pk, "new": w.pool_second_job.pk},
            ),
        ),
        listing(
            "api:fused",
            role=ROLE,
            visible_to=OWNERS,
            marker=lambda w: w.pool_record.id_key,
            query={"key": "id_number"},
            note="the others get an empty list: no dataset of theirs holds the entity",
        ),
        # --- loads
        listing("api:ingestion-job-list", target="pool_job", visible_to=OWNERS, role=ROLE),
        detail("api:ingestion-job-detail", target="pool_job", visible_to=OWNERS, role=ROLE),
        nested(
            "api:ingestion-job-rejects",
            target="pool_reject",
            owner="pool_job",
            kwargs=on_job,
            visible_to=OWNERS,
            hidden_to=AUTHENTICATED - OWNERS,
        ),
        listing(
            # a CSV download: the rows are checked on the bytes (check_extra)
            "api:ingestion-job-rejects-csv",
            role=ROLE,
            kwargs=on_job,
            query={},
            overrides=EVERYONE_ELSE_HIDDEN,
            check_extra=rejects_csv_check,
        ),
        # --- sharing: the source's stewards and heads, into the leading group pool it sits in
        action(
            "api:dataset-share",
            "post",
            target="pool_dataset",
            role=ROLE,
            visible_to=DISCOVERERS,
            allowed_to=STEWARDS,
            success=202,
            data=lambda w: {"target": w.pool_group_dataset.pk, "fields": ["id_number", "name"], "filters": {}},
            probe=jobs_into_group_pool,
        ),
        # --- database sync sources: the owner's stewards and heads only (staff do not see them)
        nested(
            "api:dataset-sync-sources",
            target="pool_sync_source",
            hidden_to=UNDISCOVERED,
            owner="pool_dataset",
            kwargs=on_dataset,
            visible_to=STEWARDS,
            note="seated states that discover the dataset get its source list without the owner's sources",
        ),
        action(
            "api:dataset-sync-sources",
            "post",
            target="pool_dataset",
            role=ROLE,
            visible_to=DISCOVERERS,
            allowed_to=STEWARDS,
            success=201,
            data=lambda w: {
                "name": "Matrix-Source",
                "url": datapool_world.source_url(),
                "table": datapool_world.SOURCE_TABLE,
                "columns": datapool_world.SOURCE_COLUMNS,
                "cursor_column": "id",
            },
            probe=sources_of_dataset,
        ),
        listing("api:sync-source-list", target="pool_sync_source", visible_to=STEWARDS, role=ROLE),
        detail("api:sync-source-detail", target="pool_sync_source", visible_to=STEWARDS, role=ROLE),
        action(
            "api:sync-source-detail",
            "patch",
            target="pool_sync_source",
            role=ROLE,
            visible_to=STEWARDS,
            data=lambda w: {"interval_minutes": 15, "enabled": False},
            probe=source_settings,
        ),
        action(
            "api:sync-source-run",
            "post",
            target="pool_sync_source",
            role=ROLE,
            visible_to=STEWARDS,
            success=202,
            probe=jobs_of_dataset,
        ),
        # --- the asset register
        listing("api:asset-list", target="pool_dataset", visible_to=OWNERS, role=ROLE),
    ],
)


@pytest.mark.parametrize(("route", "state"), cases(ROUTES))
def test_permission_matrix(route, state, world):
    check(route, state, world)
