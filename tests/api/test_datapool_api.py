"""Data-pool API wiring: the catalog across departments and regions, records for the owner only,
the reporting channel with a real integration key, uploads, job progress and rejects, mappings,
quality, assets, the error format and ignored fields. (Scope per route and state: the matrix.)"""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.accounts.services import integration_key_create
from apps.core.permissions import Role
from apps.datapool import services
from apps.datapool.choices import Classification
from apps.datapool.models import ColumnMapping, Dataset, DatasetUse, IngestionJob, Record
from apps.ledger.models import AuditEvent
from tests import factories as f
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows

pytestmark = pytest.mark.django_db

GHOST = 2_147_483_000


@pytest.fixture
def w(admin):
    return pool_world(classification=Classification.INTERNAL)


@pytest.fixture
def far(w):
    """A steward in another province: discovers open metadata, nothing else."""
    return f.member(f.department(region=f.region(name="浙江省")), Role.STEWARD)


def assert_error(response, status: int, code: str, fields=None) -> dict:
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["request_id"]
    if fields is not None:
        assert sorted(error.get("fields", {})) == sorted(fields), error
    return error


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:300]
    return [row["id"] for row in response.json()["results"]]


def upload(client, dataset, data: bytes, name: str = "data.csv", **fields):
    headers = {k: fields.pop(k) for k in list(fields) if k.startswith("HTTP_")}
    body = {"file": SimpleUploadedFile(name, data, content_type="text/csv"), **fields}
    return client.post(f"/api/v1/datasets/{dataset.pk}/uploads/", body, format="multipart", **headers)


# --- the catalog ------------------------------------------------------------------------------


def test_the_catalog_is_discoverable_in_the_region_open_data_everywhere_secret_data_nowhere(api_client, w, far):
    secret = services.dataset_create(
        actor=w.steward, owner=w.owner, standard=w.standard, title="涉密数据", classification=Classification.SECRET
    )
    open_data = services.dataset_create(
        actor=w.steward, owner=w.owner, standard=w.standard, title="公开数据", classification=Classification.OPEN
    )
    api_client.force_authenticate(w.staff)
    assert {w.dataset.pk, secret.pk, open_data.pk} <= set(ids(api_client.get("/api/v1/datasets/")))
    # another department of the owner's city: internal and open metadata, never secret
    api_client.force_authenticate(w.outsider)
    listed = ids(api_client.get("/api/v1/datasets/?page_size=200"))
    assert {w.dataset.pk, open_data.pk} <= set(listed) and secret.pk not in listed
    assert api_client.get(f"/api/v1/datasets/{w.dataset.pk}/").status_code == 200
    # another province without an agreement sharing the catalog: open metadata only
    api_client.force_authenticate(far)
    listed = ids(api_client.get("/api/v1/datasets/?page_size=200"))
    assert open_data.pk in listed and w.dataset.pk not in listed and secret.pk not in listed
    assert api_client.get(f"/api/v1/datasets/{open_data.pk}/").status_code == 200
    for user, hidden_ones in ((w.outsider, [secret]), (far, [secret, w.dataset])):
        api_client.force_authenticate(user)
        ghost = assert_error(api_client.get(f"/api/v1/datasets/{GHOST}/"), 404, "not_found")
        for dataset in hidden_ones:
            hidden = assert_error(api_client.get(f"/api/v1/datasets/{dataset.pk}/"), 404, "not_found")
            assert hidden["message"] == ghost["message"]
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(secret.pk)).exists()


def test_a_dataset_shows_its_metadata_and_never_its_records(api_client, w):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(5)))
    api_client.force_authenticate(w.outsider)
    body = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/").json()
    assert body["owner"]["id"] == w.owner.pk and body["region"] == w.city.code
    assert body["standard"]["code"] == "resident" and body["classification"] == "internal"
    assert body["record_count"] == 5 and body["quality_score"] is not None and body["last_loaded_at"]
    assert body["is_fresh"] is True
    assert "records" not in body and "payload" not in str(body)


def test_the_catalog_search_uses_the_dataset_filter(api_client, w):
    flood = services.dataset_create(actor=w.steward, owner=w.owner, standard=w.standard, title="防汛重点人员")
    api_client.force_authenticate(w.outsider)
    assert ids(api_client.get("/api/v1/datasets/", {"q": "防汛"})) == [flood.pk]
    assert set(ids(api_client.get("/api/v1/datasets/", {"owner": w.owner.pk}))) == {w.dataset.pk, flood.pk}
    assert ids(api_client.get("/api/v1/datasets/", {"standard": "hazmat"})) == []
    assert_error(api_client.get("/api/v1/datasets/", {"classification": "bogus"}), 400, "invalid")


def test_standards_publish_their_rules_and_record_schema_and_tags_their_labels(api_client, w):
    api_client.force_authenticate(w.outsider)
    standards = api_client.get("/api/v1/standards/", {"code": "resident"}).json()["results"]
    assert [s["id"] for s in standards] == [w.standard.pk]
    detail = api_client.get(f"/api/v1/standards/{w.standard.pk}/").json()
    assert detail["key_fields"] and {r["kind"] for r in detail["quality_rules"]} >= {"uniqueness", "required"}
    assert detail["tag_rules"][0]["tag"] == "vulnerable"
    assert "id_number" in detail["record_schema"]["required"]
    assert detail["record_schema"]["properties"]["age"]["type"] == "integer"
    tags = api_client.get("/api/v1/tags/", HTTP_ACCEPT_LANGUAGE="en").json()["results"]
    assert {
        "code": "vulnerable",
        "name": "重点关爱人员",
        "name_en": "Vulnerable person",
        "label": "Vulnerable person",
    } in (tags)


# --- creating and changing datasets -----------------------------------------------------------


def test_a_steward_registers_a_dataset_and_owner_counters_and_author_in_the_payload_are_ignored(api_client, w):
    api_client.force_authenticate(w.steward)
    response = api_client.post(
        "/api/v1/datasets/",
        {
            "standard": w.standard.pk,
            "title": "流动人口",
            "classification": "sensitive",
            "tags": ["vulnerable"],
            # not inputs: ignored
            "owner": w.other.pk,
            "record_count": 99,
            "quality_score": 100,
            "created_by": w.outsider.pk,
            "last_loaded_at": "2020-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert (dataset.owner_id, dataset.record_count, dataset.quality_score, dataset.created_by_id) == (
        w.owner.pk,
        0,
        None,
        w.steward.pk,
    )
    assert dataset.last_loaded_at is None and [t.code for t in dataset.tags.all()] == ["vulnerable"]
    assert response.json()["tags"] == ["vulnerable"]


def test_a_dataset_update_changes_the_metadata_only(api_client, w):
    api_client.force_authenticate(w.steward)
    response = api_client.patch(
        f"/api/v1/datasets/{w.dataset.pk}/",
        {"title": "常住人口（更新）", "tags": ["flood"], "owner": w.other.pk, "record_count": 7, "quality_score": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    w.dataset.refresh_from_db()
    assert (w.dataset.title, w.dataset.owner_id, w.dataset.record_count, w.dataset.quality_score) == (
        "常住人口（更新）",
        w.owner.pk,
        0,
        None,
    )
    assert response.json()["tags"] == ["flood"]


def test_dataset_writes_are_for_the_owners_stewards(api_client, w):
    api_client.force_authenticate(w.staff)
    body = {"department": w.owner.pk, "standard": w.standard.pk, "title": "员工不能建"}
    assert_error(api_client.post("/api/v1/datasets/", body, format="json"), 403, "permission_denied")
    patch = api_client.patch(f"/api/v1/datasets/{w.dataset.pk}/", {"title": "x"}, format="json")
    assert_error(patch, 403, "permission_denied")
    api_client.force_authenticate(w.outsider)  # a steward of another department of the city
    assert_error(api_client.post("/api/v1/datasets/", body, format="json"), 403, "permission_denied")
    assert Dataset.objects.count() == 1


def test_invalid_dataset_payloads_are_400_in_the_error_format(api_client, w):
    api_client.force_authenticate(w.steward)
    assert_error(api_client.post("/api/v1/datasets/", {"title": "x"}, format="json"), 400, "invalid", ["standard"])
    bad_tag = {"standard": w.standard.pk, "title": "x", "tags": ["nope"]}
    assert_error(api_client.post("/api/v1/datasets/", bad_tag, format="json"), 400, "invalid", ["tags"])
    duplicate = {"standard": w.standard.pk, "title": w.dataset.title}
    assert_error(api_client.post("/api/v1/datasets/", duplicate, format="json"), 400, "invalid", ["title"])
    bad_choice = {"standard": w.standard.pk, "title": "y", "classification": "top"}
    assert_error(api_client.post("/api/v1/datasets/", bad_choice, format="json"), 400, "invalid", ["classification"])
    no_standard = {"standard": GHOST, "title": "z"}
    assert_error(api_client.post("/api/v1/datasets/", no_standard, format="json"), 400, "invalid", ["standard"])
    assert Dataset.objects.count() == 1


def test_a_caller_with_several_departments_names_the_owner(api_client, w):
    f.member(w.other, Role.STEWARD, user=w.steward)
    api_client.force_authenticate(w.steward)
    body = {"standard": w.standard.pk, "title": "两个部门"}
    assert_error(api_client.post("/api/v1/datasets/", body, format="json"), 400, "invalid", ["department"])
    response = api_client.post("/api/v1/datasets/", {**body, "department": w.other.pk}, format="json")
    assert response.status_code == 201 and response.json()["owner"]["id"] == w.other.pk


# --- records ----------------------------------------------------------------------------------


def test_records_are_for_the_owner_department_only_and_each_read_counts(api_client, w, far):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(7)))
    url = f"/api/v1/datasets/{w.dataset.pk}/records/"
    api_client.force_authenticate(w.staff)
    first = api_client.get(url, {"page_size": 4}).json()
    assert len(first["results"]) == 4 and first["next"] and "count" not in first
    assert first["results"][0]["payload"]["id_number"]
    second = api_client.get(first["next"]).json()
    assert len(second["results"]) == 3 and second["next"] is None
    assert [r["id"] for r in first["results"] + second["results"]] == list(
        Record.objects.filter(dataset=w.dataset).order_by("id").values_list("id", flat=True)
    )
    use = DatasetUse.objects.get(dataset=w.dataset, department=w.owner)
    assert (use.reads, use.rows) == (2, 7)

    for user in (w.outsider, far):  # they discover the dataset, but its records are not there for them
        api_client.force_authenticate(user)
        hidden = assert_error(api_client.get(url), 404, "not_found")
        ghost = assert_error(api_client.get(f"/api/v1/datasets/{GHOST}/records/"), 404, "not_found")
        assert hidden["message"] == ghost["message"]
    assert AuditEvent.objects.filter(action="access.denied", target_id=str(w.dataset.pk)).count() == 2
    assert DatasetUse.objects.filter(dataset=w.dataset).count() == 1


def test_a_grantee_pulls_only_what_its_grant_opens_masked_as_it_says(api_client):
    """With a data-access grant (apps.access), the bulk pull honours its fields, masks and rows."""
    from apps.access import services as access
    from tests.access.world import access_world

    a = access_world(rows=6)
    req = access.request_create(
        actor=a.health_steward,
        department=a.health,
        dataset=a.pool.dataset,
        fields=["name", "gender"],
        masked_fields=["id_number"],
        row_filter=[{"field": "gender", "op": "eq", "value": "女"}],
        purpose="核查洪涝转移人员",
        legal_basis="《突发事件应对法》第五十四条",
        duration_hours=24,
    )
    req = access.request_decide(actor=a.pool.head, request=req, decision="approve", second_factor=True)
    access.request_decide(actor=a.office_head, request=req, decision="approve", second_factor=True)

    api_client.force_authenticate(a.health_steward)
    rows = api_client.get(f"/api/v1/datasets/{a.pool.dataset.pk}/records/").json()["results"]
    expected = Record.objects.filter(dataset=a.pool.dataset, payload__gender="女")
    assert len(rows) == expected.count() > 0
    for row in rows:
        assert set(row["payload"]) == {"name", "gender", "id_number"} and row["payload"]["gender"] == "女"
        assert "*" * 16 in row["payload"]["id_number"]
    assert DatasetUse.objects.get(dataset=a.pool.dataset, department=a.health).rows == len(rows)

    api_client.force_authenticate(a.stranger)  # no grant: the records are not there for them
    assert_error(api_client.get(f"/api/v1/datasets/{a.pool.dataset.pk}/records/"), 404, "not_found")


# --- the reporting channel --------------------------------------------------------------------


def batch_records(n: int, start: int = 0) -> list[dict]:
    rows = resident_rows(n + start, seed=3)
    names = [f["name"] for f in services.DataStandard.objects.get(code="resident").fields]
    return [dict(zip(names, row, strict=True)) for row in rows[1 + start :]]


def test_a_batch_with_an_integration_key_is_accepted_once_per_idempotency_key(api_client, w):
    _key, secret = integration_key_create(actor=w.head, department=w.owner, name="人口系统")
    headers = {"HTTP_AUTHORIZATION": f"Key {secret}", "HTTP_IDEMPOTENCY_KEY": "batch-0001"}
    url = f"/api/v1/datasets/{w.dataset.pk}/records/batch/"
    records = batch_records(3)

    first = api_client.post(url, {"records": records}, format="json", **headers)
    assert first.status_code == 202, first.content
    job = first.json()
    assert job["channel"] == "api" and job["status"] == "queued" and job["dataset"]["id"] == w.dataset.pk
    assert first["Location"].endswith(f"/api/v1/jobs/{job['id']}/")

    replay = api_client.post(url, {"records": records}, format="json", **headers)
    assert replay.status_code == 200 and replay.json()["id"] == job["id"]
    assert IngestionJob.objects.filter(dataset=w.dataset).count() == 1

    services.ingestion_run(job["id"])
    polled = api_client.get(first["Location"], HTTP_AUTHORIZATION=f"Key {secret}").json()
    assert (polled["status"], polled["rows_read"], polled["rows_accepted"], polled["progress"]) == (
        "succeeded",
        3,
        3,
        100,
    )
    assert Record.objects.filter(dataset=w.dataset).count() == 3

    other = api_client.post(
        url,
        {"records": batch_records(2, start=3)},
        format="json",
        **{
            **headers,
            "HTTP_IDEMPOTENCY_KEY": "batch-0002",
        },
    )
    assert other.status_code == 202 and other.json()["id"] != job["id"]


def test_invalid_batches_are_400_and_create_no_job(api_client, w):
    _key, secret = integration_key_create(actor=w.head, department=w.owner, name="人口系统")
    auth = {"HTTP_AUTHORIZATION": f"Key {secret}"}
    url = f"/api/v1/datasets/{w.dataset.pk}/records/batch/"
    no_key = api_client.post(url, {"records": batch_records(1)}, format="json", **auth)
    assert_error(no_key, 400, "invalid", ["idempotency_key"])
    keyed = {**auth, "HTTP_IDEMPOTENCY_KEY": "k-1"}
    assert_error(api_client.post(url, {"records": []}, format="json", **keyed), 400, "invalid", ["records"])
    assert_error(api_client.post(url, {"records": "nope"}, format="json", **keyed), 400, "invalid", ["records"])
    assert_error(api_client.post(url, {"records": [1, 2]}, format="json", **keyed), 400, "invalid", ["records"])
    assert_error(api_client.post(url, {}, format="json", **keyed), 400, "invalid", ["records"])
    too_long = {**auth, "HTTP_IDEMPOTENCY_KEY": "k" * 65}
    assert_error(api_client.post(url, {"records": batch_records(1)}, format="json", **too_long), 400, "invalid")
    assert not IngestionJob.objects.exists()


def test_another_departments_key_cannot_report_into_a_dataset(api_client, w):
    _key, secret = integration_key_create(actor=f.member(w.other, Role.HEAD), department=w.other, name="卫健系统")
    response = api_client.post(
        f"/api/v1/datasets/{w.dataset.pk}/records/batch/",
        {"records": batch_records(1)},
        format="json",
        HTTP_AUTHORIZATION=f"Key {secret}",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert_error(response, 403, "permission_denied")
    assert not IngestionJob.objects.exists()


# --- uploads, jobs and rejects ----------------------------------------------------------------


def test_a_gb18030_upload_is_loaded_and_its_job_shows_the_counts(api_client, w, django_capture_on_commit_callbacks):
    api_client.force_authenticate(w.steward)
    with django_capture_on_commit_callbacks(execute=True):  # Celery runs eagerly in tests
        response = upload(api_client, w.dataset, csv_bytes(resident_rows(50, bad=3), "gb18030"), name="人口.csv")
    assert response.status_code == 202, response.content
    job = api_client.get(response["Location"]).json()
    assert (job["status"], job["encoding"], job["source_format"]) == ("succeeded", "gb18030", "csv")
    assert (job["rows_read"], job["rows_accepted"], job["rows_rejected"], job["progress"]) == (53, 50, 3, 100)
    assert job["quality_score"] is not None and job["error"] == "" and job["source_name"] == "人口.csv"
    listed = api_client.get("/api/v1/jobs/", {"dataset": w.dataset.pk, "status": "succeeded"}).json()["results"]
    assert [j["id"] for j in listed] == [job["id"]]

    replay = upload(
        api_client, w.dataset, csv_bytes(resident_rows(50, bad=3), "gb18030"), HTTP_IDEMPOTENCY_KEY=job["sha256"][:20]
    )
    assert replay.status_code in (200, 202)  # 200: the service recognised the file loaded before
    again = upload(
        api_client, w.dataset, csv_bytes(resident_rows(50, bad=3), "gb18030"), HTTP_IDEMPOTENCY_KEY=job["sha256"][:20]
    )
    assert again.status_code == 200 and again.json()["id"] == replay.json()["id"]  # a retried upload: one job

    rejects = api_client.get(job["rejects_url"]).json()
    assert rejects["count"] == 3
    first = rejects["results"][0]
    assert first["field"] == "age" and first["reason"] in ("type", "range") and first["reason_text"]
    assert first["raw"]["年龄"] in ("abc", "200", "-1")


def test_the_rejects_csv_holds_line_field_reason_and_the_row_with_formulas_escaped(api_client, w):
    rows = resident_rows(2)
    bad = list(rows[1])
    bad[1], bad[5] = '=HYPERLINK("http://x")', "abc"
    job = load_bytes(w.steward, w.dataset, csv_bytes([*rows, bad]))
    assert job.rows_rejected == 1
    api_client.force_authenticate(w.staff)
    response = api_client.get(f"/api/v1/jobs/{job.pk}/rejects.csv/")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    header, row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert header[:3] == ["line", "field", "reason"] and header[3:] == rows[0]
    assert row[0] == "4" and row[1] == "age" and row[2]
    assert row[3 + 1] == '\'=HYPERLINK("http://x")'


def test_jobs_and_rejects_are_the_owner_departments(api_client, w, far):
    job = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(2, bad=1)))
    for user in (w.outsider, far):
        api_client.force_authenticate(user)
        assert job.pk not in ids(api_client.get("/api/v1/jobs/"))
        for suffix in ("", "rejects/", "rejects.csv/"):
            assert_error(api_client.get(f"/api/v1/jobs/{job.pk}/{suffix}"), 404, "not_found")


def test_a_failed_load_explains_itself(api_client, w, django_capture_on_commit_callbacks):
    api_client.force_authenticate(w.steward)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api_client, w.dataset, b"foo,bar\n1,2\n")
    assert response.status_code == 202
    job = api_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").json()
    assert job["status"] == "failed" and job["error_code"] == "missing_columns"
    assert "id_number" in job["error"] and job["progress"] == 100


def test_uploads_with_a_saved_mapping_and_saving_one(api_client, w):
    header = ["ID", "NAME", "AGE"]
    rows = [header, *[[r[0], r[1], r[5]] for r in resident_rows(3)[1:]]]
    api_client.force_authenticate(w.steward)
    columns = '{"id_number": "ID", "name": "NAME", "age": "AGE"}'
    response = upload(api_client, w.dataset, csv_bytes(rows), columns=columns, save_mapping_as="三列")
    assert response.status_code == 202, response.content
    mapping = ColumnMapping.objects.get(dataset=w.dataset, name="三列")
    assert mapping.columns == {"id_number": "ID", "name": "NAME", "age": "AGE"}
    listed = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/mappings/").json()["results"]
    assert [m["id"] for m in listed] == [mapping.pk]

    rows[1][2] = "42"  # another file with the same columns
    again = upload(api_client, w.dataset, csv_bytes(rows), mapping=mapping.pk)
    assert again.status_code == 202 and again.json()["id"] != response.json()["id"]
    assert IngestionJob.objects.get(pk=again.json()["id"]).columns == mapping.columns

    created = api_client.post(
        f"/api/v1/datasets/{w.dataset.pk}/mappings/", {"name": "两列", "columns": {"id_number": "ID"}}, format="json"
    )
    assert created.status_code == 201 and created.json()["columns"] == {"id_number": "ID"}
    bad = api_client.post(
        f"/api/v1/datasets/{w.dataset.pk}/mappings/", {"name": "坏", "columns": {"nope": "X"}}, format="json"
    )
    assert_error(bad, 400, "invalid", ["columns"])


def test_invalid_uploads_are_400_with_a_clear_message_and_create_no_job(api_client, w, settings):
    api_client.force_authenticate(w.steward)
    empty = assert_error(upload(api_client, w.dataset, b""), 400, "invalid", ["file"])
    assert empty["fields"]["file"]
    assert_error(
        api_client.post(f"/api/v1/datasets/{w.dataset.pk}/uploads/", {}, format="multipart"), 400, "invalid", ["file"]
    )
    bad_columns = upload(api_client, w.dataset, b"a\n1\n", columns="[1, 2]")
    assert_error(bad_columns, 400, "invalid", ["columns"])
    not_json = upload(api_client, w.dataset, b"a\n1\n", columns="{nope")
    assert_error(not_json, 400, "invalid", ["columns"])
    unknown_mapping = upload(api_client, w.dataset, b"a\n1\n", mapping=GHOST)
    assert_error(unknown_mapping, 400, "invalid", ["mapping"])

    settings.DATAPOOL_MAX_UPLOAD_MB = 1
    big = upload(api_client, w.dataset, b"x" * (1024 * 1024 + 10), HTTP_ACCEPT_LANGUAGE="en")
    error = assert_error(big, 400, "file_too_large", ["file"])
    assert "1 MB" in error["message"]
    huge = upload(api_client, w.dataset, b"x" * (1024 * 1024 + 100 * 1024))
    assert_error(huge, 400, "file_too_large", ["file"])
    assert not IngestionJob.objects.exists()


def test_uploads_are_for_the_owners_stewards(api_client, w, far):
    api_client.force_authenticate(w.staff)
    assert_error(upload(api_client, w.dataset, b"a\n1\n"), 403, "permission_denied")
    api_client.force_authenticate(w.outsider)
    assert_error(upload(api_client, w.dataset, b"a\n1\n"), 403, "permission_denied")
    assert not IngestionJob.objects.exists()


# --- quality, assets, usage -------------------------------------------------------------------


def test_quality_history_is_metadata_for_those_who_discover_the_dataset(api_client, w, far):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(4)))
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(6, seed=9)))
    api_client.force_authenticate(w.outsider)
    history = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/quality/").json()
    assert len(history) == 2 and history[0]["measured_at"] <= history[1]["measured_at"]
    assert history[-1]["score"] == Dataset.objects.get(pk=w.dataset.pk).quality_score
    api_client.force_authenticate(far)
    assert_error(api_client.get(f"/api/v1/datasets/{w.dataset.pk}/quality/"), 404, "not_found")


def test_the_asset_register_and_usage_are_the_owners(api_client, w, far):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(3)))
    api_client.force_authenticate(w.staff)
    api_client.get(f"/api/v1/datasets/{w.dataset.pk}/records/")
    assets = api_client.get("/api/v1/assets/").json()["results"]
    [row] = [a for a in assets if a["id"] == w.dataset.pk]
    assert (row["reads_30d"], row["rows_30d"], row["users_30d"], row["record_count"]) == (1, 3, 1, 3)
    usage = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/usage/").json()
    assert usage == [{"department_id": w.owner.pk, "department_name": w.owner.name, "reads": 1, "rows": 3}]

    api_client.force_authenticate(far)
    assert w.dataset.pk not in ids(api_client.get("/api/v1/assets/"))
    assert_error(api_client.get(f"/api/v1/datasets/{w.dataset.pk}/usage/"), 404, "not_found")


# --- processing -------------------------------------------------------------------------------


def test_duplicates_and_diffs_are_for_the_owner(api_client, w, far):
    rows = resident_rows(4)
    first = load_bytes(w.steward, w.dataset, csv_bytes([*rows, rows[1]]))
    changed = [list(r) for r in rows[:4]]
    changed[1][3] = "南京市鼓楼区新地址1号"
    second = load_bytes(w.steward, w.dataset, csv_bytes([*changed, resident_rows(6, seed=5)[1]]), name="v2.csv")
    api_client.force_authenticate(w.staff)
    groups = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/duplicates/").json()
    exact = [g for g in groups if g["kind"] == "exact"]
    assert exact and exact[0]["count"] >= 2 and len(exact[0]["record_ids"]) >= 2
    assert "hash" not in exact[0]  # a masked reader could test guesses against a hash

    diff = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/diff/", {"old": first.pk, "new": second.pk}).json()
    assert (diff["old_job"], diff["new_job"]) == (first.pk, second.pk)
    assert (diff["added"]["count"], diff["removed"]["count"], diff["changed"]["count"]) == (1, 1, 1)
    assert diff["changed"]["samples"][0]["old_record_id"]

    missing = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/diff/", {"old": first.pk})
    assert_error(missing, 400, "invalid", ["new"])
    ghost = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/diff/", {"old": first.pk, "new": GHOST})
    assert_error(ghost, 400, "invalid", ["new"])
    elsewhere = services.dataset_create(actor=w.steward, owner=w.owner, standard=w.standard, title="另一份")
    other_job = load_bytes(w.steward, elsewhere, csv_bytes(resident_rows(2)))
    foreign = api_client.get(f"/api/v1/datasets/{w.dataset.pk}/diff/", {"old": first.pk, "new": other_job.pk})
    assert_error(foreign, 400, "invalid", ["new"])

    for user in (w.outsider, far):
        api_client.force_authenticate(user)
        assert_error(api_client.get(f"/api/v1/datasets/{w.dataset.pk}/duplicates/"), 404, "not_found")
        query = {"old": first.pk, "new": second.pk}
        assert_error(api_client.get(f"/api/v1/datasets/{w.dataset.pk}/diff/", query), 404, "not_found")


def test_the_fused_view_folds_an_entity_across_the_callers_datasets(api_client, w, far):
    rows = resident_rows(3)
    load_bytes(w.steward, w.dataset, csv_bytes(rows))
    copy = services.dataset_create(actor=w.steward, owner=w.owner, standard=w.standard, title="人口副本")
    load_bytes(w.steward, copy, csv_bytes(rows[:2]))
    id_number = rows[1][0]
    api_client.force_authenticate(w.staff)
    [row] = api_client.get("/api/v1/fused/", {"key": "id_number", "value": id_number}).json()
    assert row["datasets"] == sorted([w.dataset.pk, copy.pk]) and len(row["records"]) == 2
    assert row["fields"]["name"]["value"] == rows[1][1] and "id_number" in row["sensitive_fields"]
    only_copy = api_client.get("/api/v1/fused/", {"key": "id_number", "datasets": str(copy.pk)}).json()
    assert {r["datasets"][0] for r in only_copy} == {copy.pk} and len(only_copy) == 1
    assert_error(api_client.get("/api/v1/fused/", {"key": "place_code"}), 400, "invalid", ["key"])
    assert_error(api_client.get("/api/v1/fused/", {"key": "id_number", "datasets": "a,b"}), 400, "invalid")
    for user in (w.outsider, far):
        api_client.force_authenticate(user)
        assert api_client.get("/api/v1/fused/", {"key": "id_number", "value": id_number}).json() == []


# --- sharing ----------------------------------------------------------------------------------


def test_a_steward_shares_chosen_fields_into_another_dataset(api_client, w, far, django_capture_on_commit_callbacks):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(6)))
    target = services.dataset_create(
        actor=w.steward, owner=w.owner, standard=w.standard, title="共享子集", classification=Classification.SENSITIVE
    )
    url = f"/api/v1/datasets/{w.dataset.pk}/share/"
    body = {"target": target.pk, "fields": ["id_number", "name", "gender"], "filters": {"gender": "男"}}
    api_client.force_authenticate(w.steward)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(url, body, format="json")
    assert response.status_code == 202, response.content
    job = api_client.get(response["Location"]).json()
    assert job["channel"] == "share" and job["dataset"]["id"] == target.pk and job["status"] == "succeeded"
    shared = list(Record.objects.filter(dataset=target).values_list("payload", flat=True))
    assert shared and all(set(p) <= {"id_number", "name", "gender"} and p["gender"] == "男" for p in shared)

    assert_error(api_client.post(url, {**body, "target": GHOST}, format="json"), 400, "invalid", ["target"])
    assert_error(api_client.post(url, {**body, "fields": ["nope"]}, format="json"), 400, "invalid", ["fields"])
    assert_error(api_client.post(url, {"target": target.pk}, format="json"), 400, "invalid", ["fields"])
    for user in (w.staff, w.outsider):
        api_client.force_authenticate(user)
        assert_error(api_client.post(url, body, format="json"), 403, "permission_denied")
    api_client.force_authenticate(far)  # does not even discover the internal source
    assert_error(api_client.post(url, body, format="json"), 404, "not_found")
    assert IngestionJob.objects.filter(dataset=target).count() == 1


# --- database sync sources ---------------------------------------------------------------------


def test_sync_sources_keep_their_url_write_only_and_run_on_demand(api_client, w, far):
    from tests.matrix.datapool_world import SOURCE_COLUMNS, SOURCE_TABLE, source_url

    url = source_url()
    api_client.force_authenticate(w.steward)
    body = {"name": "户籍库", "url": url, "table": SOURCE_TABLE, "columns": SOURCE_COLUMNS, "cursor_column": "id"}
    created = api_client.post(f"/api/v1/datasets/{w.dataset.pk}/sync-sources/", body, format="json")
    assert created.status_code == 201, created.content
    source = created.json()
    assert "url" not in source and url not in created.content.decode()
    assert (source["table"], source["interval_minutes"], source["enabled"]) == ("residents", 60, True)
    assert [s["id"] for s in api_client.get(f"/api/v1/datasets/{w.dataset.pk}/sync-sources/").json()["results"]] == [
        source["id"]
    ]

    patched = api_client.patch(f"/api/v1/sync-sources/{source['id']}/", {"interval_minutes": 5}, format="json")
    assert patched.status_code == 200 and patched.json()["interval_minutes"] == 5
    assert url not in patched.content.decode()

    run = api_client.post(f"/api/v1/sync-sources/{source['id']}/run/")
    assert run.status_code == 202 and run.json()["channel"] == "sync"
    assert run["Location"].endswith(f"/api/v1/jobs/{run.json()['id']}/")
    again = api_client.post(f"/api/v1/sync-sources/{source['id']}/run/")
    assert again.status_code == 200 and again.json()["id"] == run.json()["id"]  # a run is already waiting

    bad = api_client.post(
        f"/api/v1/datasets/{w.dataset.pk}/sync-sources/",
        {**body, "name": "本地", "url": "sqlite:///x.db"},
        format="json",
    )
    assert_error(bad, 400, "invalid", ["url"])
    missing = api_client.post(f"/api/v1/datasets/{w.dataset.pk}/sync-sources/", {"name": "空"}, format="json")
    assert_error(missing, 400, "invalid", ["url", "table", "columns", "cursor_column"])

    for user in (w.staff, w.outsider, far):  # stewards and heads of the owner only
        api_client.force_authenticate(user)
        assert_error(api_client.get(f"/api/v1/sync-sources/{source['id']}/"), 404, "not_found")
        assert_error(api_client.post(f"/api/v1/sync-sources/{source['id']}/run/"), 404, "not_found")
        assert source["id"] not in ids(api_client.get("/api/v1/sync-sources/"))


# --- the schema -------------------------------------------------------------------------------


def test_the_schema_documents_the_data_pool_routes(client, w):
    client.force_login(w.staff)
    schema = client.get("/api/v1/schema/").content.decode()
    for path in (
        "/api/v1/standards/{id}/",
        "/api/v1/tags/",
        "/api/v1/datasets/{id}/records/",
        "/api/v1/datasets/{id}/records/batch/",
        "/api/v1/datasets/{id}/uploads/",
        "/api/v1/datasets/{id}/mappings/",
        "/api/v1/datasets/{id}/quality/",
        "/api/v1/datasets/{id}/usage/",
        "/api/v1/jobs/{id}/rejects/",
        "/api/v1/jobs/{id}/rejects.csv/",
        "/api/v1/assets/",
        "/api/v1/datasets/{id}/duplicates/",
        "/api/v1/datasets/{id}/diff/",
        "/api/v1/fused/",
        "/api/v1/datasets/{id}/sync-sources/",
        "/api/v1/sync-sources/{id}/run/",
        "/api/v1/datasets/{id}/share/",
        "Idempotency-Key",
        "multipart/form-data",
    ):
        assert path in schema, path


def test_every_data_pool_route_is_named_under_api():
    for name in ("api:dataset-records", "api:dataset-records-batch", "api:ingestion-job-rejects-csv"):
        assert reverse(name, kwargs={"pk": 1}).startswith("/api/v1/")
