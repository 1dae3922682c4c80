"""Data-pool pages: the catalog is open to all staff and never shows records; the records table
is the owner department's (404 for everyone else); the two-step upload submits one job however
often it is posted; a job's live fragment polls until the load ends and then brings the results;
the rejected rows download as formula-safe CSV that loads again once fixed; the asset register
and the standards pages; every asset is served locally.

The permission matrix (tests/matrix/test_datapool_portal_matrix.py) covers who gets which status
on every route; these tests cover what the pages do.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from apps.datapool import services
from apps.datapool.choices import Classification, JobStatus
from apps.datapool.models import ColumnMapping, Dataset, DatasetUse, IngestionJob, Record, SyncSource
from apps.ledger.models import AuditEvent
from tests import factories as f
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def w():
    return pool_world()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


def bad_rows(n: int, bad: int) -> list[list[str]]:
    """`n` good resident rows then `bad` rows with distinct people and an impossible age."""
    rows = resident_rows(n + bad)
    for row in rows[n + 1 :]:
        row[5] = "-1"
    return rows


def upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/csv")


def denied(user, action: str = "access.denied") -> int:
    return AuditEvent.objects.filter(action=action, actor=user).count()


# --- the catalog ---------------------------------------------------------------------------------


def test_the_nav_leads_to_the_catalog(w):
    page = html(client_for(w.staff).get(reverse("portal:dashboard"), **EN))
    assert f'href="{reverse("portal:dataset-list")}"' in page


def test_the_catalog_shows_metadata_to_other_departments_but_never_records(w):
    job = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(5)))
    name = Record.objects.filter(job=job).first().payload["name"]

    response = client_for(w.outsider).get(reverse("portal:dataset-list"), **EN)

    page = html(response)
    assert response.status_code == 200
    row = re.search(rf'<tr id="dataset-{w.dataset.pk}">(.*?)</tr>', page, re.S).group(1)
    assert w.dataset.title in row and w.owner.name in row and w.owner.region.name in row
    assert w.standard.name in row and "Sensitive" in row and "Fresh" in row
    assert ">5<" in row  # record count
    assert name not in page


def test_the_catalog_filters_and_hides_secret_datasets_from_other_departments(w):
    secret = services.dataset_create(
        actor=w.steward, owner=w.owner, standard=w.standard, title="Secret-Set", classification=Classification.SECRET
    )
    outsider, owner = client_for(w.outsider), client_for(w.staff)
    assert "Secret-Set" not in html(outsider.get(reverse("portal:dataset-list")))
    assert "Secret-Set" in html(owner.get(reverse("portal:dataset-list")))
    assert outsider.get(reverse("portal:dataset-detail", args=[secret.pk])).status_code == 404

    found = owner.get(reverse("portal:dataset-list"), {"classification": "secret"})
    assert [d.pk for d in found.context["object_list"]] == [secret.pk]
    found = owner.get(reverse("portal:dataset-list"), {"q": "Secret"})
    assert [d.pk for d in found.context["object_list"]] == [secret.pk]
    tagged = owner.get(reverse("portal:dataset-list"), {"tag": "vulnerable"})
    assert list(tagged.context["object_list"]) == []


def test_a_stale_dataset_is_marked_stale(w):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(2)))
    Dataset.objects.filter(pk=w.dataset.pk).update(last_loaded_at=timezone.now() - timedelta(days=3))
    row = re.search(
        rf'<tr id="dataset-{w.dataset.pk}">(.*?)</tr>',
        html(client_for(w.staff).get(reverse("portal:dataset-list"), **EN)),
        re.S,
    ).group(1)
    assert "Stale" in row


# --- one dataset ---------------------------------------------------------------------------------


def test_the_detail_page_marks_sensitive_and_linking_fields_and_draws_the_quality_history(w):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(3)))
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(3, seed=9)), name="second.csv")

    response = client_for(w.outsider).get(reverse("portal:dataset-detail", args=[w.dataset.pk]), **EN)

    page = html(response)
    id_row = re.search(r'<tr id="field-id_number">(.*?)</tr>', page, re.S).group(1)
    assert "Sensitive" in id_row and "Linking: ID number" in id_row and "Identity" in id_row
    assert "Sensitive" not in re.search(r'<tr id="field-age">(.*?)</tr>', page, re.S).group(1)
    assert len(response.context["quality_chart"]["series"][0]["data"]) == 2
    assert 'id="quality-history-data"' in page and "/static/vendor/chartjs/chart.umd.min.js" in page
    # not the owner: no upload, no records link, no jobs
    assert reverse("portal:dataset-upload", args=[w.dataset.pk]) not in page
    assert reverse("portal:dataset-records", args=[w.dataset.pk]) not in page
    assert "open to the owner department and to departments holding a grant" in page


def test_the_owner_sees_records_link_jobs_mappings_and_stewards_the_upload_button(w):
    job = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(3)))
    services.mapping_save(actor=w.steward, dataset=w.dataset, name="Monthly", columns={"id_number": "身份证号"})

    staff_page = html(client_for(w.staff).get(reverse("portal:dataset-detail", args=[w.dataset.pk]), **EN))
    steward_page = html(client_for(w.steward).get(reverse("portal:dataset-detail", args=[w.dataset.pk]), **EN))

    assert reverse("portal:dataset-records", args=[w.dataset.pk]) in staff_page
    assert reverse("portal:ingestion-detail", args=[job.pk]) in staff_page
    assert reverse("portal:dataset-upload", args=[w.dataset.pk]) not in staff_page
    assert reverse("portal:dataset-upload", args=[w.dataset.pk]) in steward_page
    assert "Monthly" in steward_page and "Monthly" not in staff_page


def test_a_steward_registers_and_edits_a_dataset(w):
    client = client_for(w.steward)
    form = client.get(reverse("portal:dataset-create"))
    assert form.status_code == 200 and form.context["form"].has_owners

    response = client.post(
        reverse("portal:dataset-create"),
        {
            "owner": w.owner.pk,
            "standard": w.standard.pk,
            "title": "Rescue-Boats",
            "source_kind": "department",
            "classification": "internal",
            "update_frequency": "weekly",
        },
    )
    dataset = Dataset.objects.get(title="Rescue-Boats")
    assert response.status_code == 302 and response["Location"] == reverse("portal:dataset-detail", args=[dataset.pk])

    again = client.post(
        reverse("portal:dataset-update", args=[dataset.pk]),
        {
            "title": "Rescue boats",
            "description": "Boats",
            "source_kind": "department",
            "classification": "open",
            "update_frequency": "weekly",
        },
    )
    dataset.refresh_from_db()
    assert again.status_code == 302 and (dataset.title, dataset.classification) == ("Rescue boats", "open")


def test_a_duplicate_title_is_a_form_error(w):
    response = client_for(w.steward).post(
        reverse("portal:dataset-create"),
        {
            "owner": w.owner.pk,
            "standard": w.standard.pk,
            "title": w.dataset.title,
            "source_kind": "department",
            "classification": "internal",
            "update_frequency": "daily",
        },
        **EN,
    )
    assert response.status_code == 400
    assert "already has a dataset with that title" in str(response.context["form"].errors["title"])


def test_registering_for_a_department_one_sees_but_does_not_steward_is_403_and_unseen_404(w):
    staff = client_for(w.staff)
    assert not staff.get(reverse("portal:dataset-create")).context["form"].has_owners
    data = {"owner": w.owner.pk, "standard": w.standard.pk, "title": "X", "source_kind": "base"}
    assert staff.post(reverse("portal:dataset-create"), data).status_code == 403
    far = f.department(region=f.region(name="Far-Away"))
    assert staff.post(reverse("portal:dataset-create"), data | {"owner": far.pk}).status_code == 404
    assert not Dataset.objects.filter(title="X").exists()


# --- records -------------------------------------------------------------------------------------


def test_the_records_table_shows_the_owner_whole_records_and_counts_the_read(w):
    job = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(3)))
    record = Record.objects.filter(job=job).order_by("id").first()

    response = client_for(w.staff).get(reverse("portal:dataset-records", args=[w.dataset.pk]), **EN)

    page = html(response)
    assert response.status_code == 200 and len(response.context["rows"]) == 3
    assert record.payload["id_number"] in page and record.payload["address"] in page
    assert '<th class="sensitive" title="Sensitive">ID number <span aria-hidden="true">*</span></th>' in page
    use = DatasetUse.objects.get(dataset=w.dataset, department=w.owner)
    assert (use.reads, use.rows) == (1, 3)


def test_records_are_404_for_other_departments_and_the_probe_is_recorded(w):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(3)))
    before = denied(w.outsider)

    response = client_for(w.outsider).get(reverse("portal:dataset-records", args=[w.dataset.pk]))

    assert response.status_code == 404
    assert denied(w.outsider) == before + 1
    assert not DatasetUse.objects.exists()


def test_records_page_by_keyset_with_a_fixed_number_of_queries(w, django_assert_max_num_queries):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(60)))
    client = client_for(w.staff)
    url = reverse("portal:dataset-records", args=[w.dataset.pk])

    first = client.get(url)
    assert len(first.context["rows"]) == 50 and first.context["prev_before"] is None
    after = first.context["next_after"]
    with django_assert_max_num_queries(19):  # includes the read's ledger event and usage count
        second = client.get(url, {"after": after})
    assert len(second.context["rows"]) == 10 and second.context["next_after"] is None
    assert second.context["rows"][0]["record"].pk > after
    back = client.get(url, {"before": second.context["prev_before"]})
    assert [r["record"].pk for r in back.context["rows"]] == [r["record"].pk for r in first.context["rows"]]
    reads = AuditEvent.objects.filter(action="data.read", after__dataset=w.dataset.pk).count()
    assert reads == 3  # every page view of records is in the ledger


# --- processing: duplicates, comparison, fusion ---------------------------------------------------


def test_duplicates_groups_exact_and_near_copies(w):
    rows = resident_rows(4)
    rows.append(list(rows[1]))  # an exact copy
    near = list(rows[2])
    near[3] = near[3].replace("号", "号 ")  # the same address with a space
    rows.append(near)
    load_bytes(w.steward, w.dataset, csv_bytes(rows))

    response = client_for(w.staff).get(reverse("portal:dataset-duplicates", args=[w.dataset.pk]), **EN)

    assert [g["count"] for g in response.context["exact"]] == [2]
    assert [len(g["rows"]) for g in response.context["exact"]] == [2]
    assert [g["count"] for g in response.context["near"]] == [2]
    assert "2 identical records" in html(response)
    assert client_for(w.outsider).get(reverse("portal:dataset-duplicates", args=[w.dataset.pk])).status_code == 404


def test_comparing_two_loads_shows_added_removed_and_changed_fields(w):
    first = resident_rows(4)
    second = [list(r) for r in first[:3]]  # the header and two people kept, one left out
    second[1][5] = "77"  # one of them older now
    second += resident_rows(1, seed=31)[1:]  # and one new person
    old = load_bytes(w.steward, w.dataset, csv_bytes(first))
    new = load_bytes(w.steward, w.dataset, csv_bytes(second), name="second.csv")
    client = client_for(w.staff)
    url = reverse("portal:dataset-diff", args=[w.dataset.pk])

    latest = client.get(url, **EN)  # the two latest loads by default
    chosen = client.get(url, {"old": old.pk, "new": new.pk}, **EN)

    for response in (latest, chosen):
        diff = response.context["diff"]
        assert (diff["added"]["count"], diff["removed"]["count"], diff["changed"]["count"]) == (1, 2, 1)
        [change] = diff["changed"]["rows"]
        assert change["fields"] == [("Age", first[1][5], "77")]
    same = client.get(url, {"old": new.pk, "new": new.pk}, **EN)
    assert same.context["diff"] is None and "Choose two different loads." in html(same)
    assert client_for(w.outsider).get(url).status_code == 404


def test_the_fused_view_joins_datasets_by_id_number_and_masks_sensitive_fields(w):
    rows = resident_rows(2)
    load_bytes(w.steward, w.dataset, csv_bytes(rows))
    other = services.dataset_create(actor=w.steward, owner=w.owner, standard=w.standard, title="Second-Register")
    copy = [list(r) for r in rows]
    copy[1][3] = "南京市鼓楼区新地址1号"  # a newer address from the second dataset
    copy[1][8] = "2026-12-01 08:00:00"
    load_bytes(w.steward, other, csv_bytes(copy[:2]), name="second.csv")
    id_number = rows[1][0]

    response = client_for(w.staff).post(
        reverse("portal:fused-view"), {"key_kind": "id_number", "value": id_number}, **EN
    )

    [row] = response.context["rows"]
    assert row["records"] == 2 and sorted(row["datasets"]) == sorted([w.dataset.title, "Second-Register"])
    fields = {cell["label"]: cell for cell in row["fields"]}
    assert fields["Address"]["value"] == "南京市鼓楼区新地址1号" and fields["Address"]["source"] == "Second-Register"
    assert fields["ID number"]["sensitive"] and fields["ID number"]["value"] != id_number
    assert id_number not in html(response).split('class="fused-rows"')[1]
    nothing = client_for(w.outsider).post(reverse("portal:fused-view"), {"key_kind": "id_number", "value": id_number})
    assert nothing.status_code == 200 and nothing.context["rows"] == []


# --- database sync and sharing --------------------------------------------------------------------


def sync_form(**changes) -> dict:
    from tests.matrix.datapool_world import SOURCE_TABLE, source_url

    return {
        "name": "Household system",
        "url": source_url(),
        "table": SOURCE_TABLE,
        "cursor_column": "id",
        "interval_minutes": "30",
        "col_id_number": "sfz",
        "col_name": "xm",
        "col_age": "nl",
    } | changes


def test_a_steward_adds_a_sync_source_runs_it_and_disables_it(w):
    client = client_for(w.steward)
    url = reverse("portal:syncsource-list", args=[w.dataset.pk])

    added = client.post(url, sync_form(), **EN)

    assert added.status_code == 302 and added["Location"] == url
    source = SyncSource.objects.get(dataset=w.dataset)
    assert source.columns == {"id_number": "sfz", "name": "xm", "age": "nl"} and source.interval_minutes == 30
    page = html(client.get(url, **EN))
    assert "Household system" in page and source.url_encrypted not in page
    assert "Household system" in html(client.get(reverse("portal:dataset-detail", args=[w.dataset.pk]), **EN))

    run = client.post(reverse("portal:syncsource-run", args=[source.pk]))
    job = IngestionJob.objects.get(dataset=w.dataset, channel="sync")
    assert run["Location"] == reverse("portal:ingestion-detail", args=[job.pk])
    again = client.post(reverse("portal:syncsource-run", args=[source.pk]))  # still waiting: the same job
    assert again["Location"] == run["Location"]

    client.post(reverse("portal:syncsource-toggle", args=[source.pk]))
    source.refresh_from_db()
    assert not source.enabled


def test_a_sync_source_the_service_refuses_is_a_form_error(w):
    response = client_for(w.steward).post(
        reverse("portal:syncsource-list", args=[w.dataset.pk]), sync_form(url="sqlite:///x.db"), **EN
    )
    assert response.status_code == 400
    assert "cannot be synced: sqlite" in str(response.context["form"].errors["url"])
    missing = client_for(w.steward).post(
        reverse("portal:syncsource-list", args=[w.dataset.pk]), sync_form(col_name=""), **EN
    )
    assert missing.status_code == 400 and "col_name" in missing.context["form"].errors
    assert not SyncSource.objects.exists()


def test_sync_pages_are_for_the_owners_stewards(w):
    url = reverse("portal:syncsource-list", args=[w.dataset.pk])
    assert client_for(w.staff).get(url).status_code == 403
    assert client_for(w.outsider).get(url).status_code == 403
    client_for(w.steward).post(url, sync_form())
    source = SyncSource.objects.get()
    assert client_for(w.staff).post(reverse("portal:syncsource-run", args=[source.pk])).status_code == 404
    assert client_for(w.outsider).post(reverse("portal:syncsource-toggle", args=[source.pk])).status_code == 404
    assert not IngestionJob.objects.exists()


def test_sharing_a_filtered_subset_queues_a_load_of_the_target(w):
    rows = resident_rows(6)
    load_bytes(w.steward, w.dataset, csv_bytes(rows))
    target = services.dataset_create(
        actor=w.steward, owner=w.owner, standard=w.standard, title="Men-Register", classification="secret"
    )
    client = client_for(w.steward)
    url = reverse("portal:dataset-share", args=[w.dataset.pk])
    form = client.get(url, **EN).context["form"]
    assert [d.pk for d in form.fields["target"].queryset] == [target.pk]

    response = client.post(
        url,
        {
            "target": target.pk,
            "shared_fields": ["id_number", "name", "gender"],
            "filter_field_1": "gender",
            "filter_values_1": "男",
        },
        **EN,
    )

    job = IngestionJob.objects.get(dataset=target)
    assert response["Location"] == reverse("portal:ingestion-detail", args=[job.pk])
    assert job.channel == "share" and job.options["share"]["filters"] == {"gender": ["男"]}
    assert job.options["rows_expected"] == sum(1 for r in rows[1:] if r[6] == "男")


def test_share_form_errors_and_refusals(w):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(2)))
    target = services.dataset_create(
        actor=w.steward, owner=w.owner, standard=w.standard, title="Lower", classification="internal"
    )
    client = client_for(w.steward)
    url = reverse("portal:dataset-share", args=[w.dataset.pk])
    base = {"target": target.pk, "shared_fields": ["id_number", "name"]}

    no_values = client.post(url, base | {"filter_field_1": "gender"}, **EN)
    assert no_values.status_code == 400 and "filter_values_1" in no_values.context["form"].errors
    lower = client.post(url, base, **EN)
    assert lower.status_code == 400
    assert "classified lower than the source" in str(lower.context["form"].errors["target"])
    assert client_for(w.staff).get(url).status_code == 403
    assert not IngestionJob.objects.filter(dataset=target).exists()


# --- the upload ----------------------------------------------------------------------------------


def test_load_now_twice_with_the_same_form_creates_one_job(w, django_capture_on_commit_callbacks):
    client = client_for(w.steward)
    form = client.get(reverse("portal:dataset-upload", args=[w.dataset.pk])).context["form"]
    key = form["idempotency_key"].value()
    data = csv_bytes(resident_rows(4), "gb18030")
    url = reverse("portal:dataset-upload", args=[w.dataset.pk])

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"file": upload("a.csv", data), "idempotency_key": key, "step": "load"})
    second = client.post(url, {"file": upload("a.csv", data), "idempotency_key": key, "step": "load"})

    job = IngestionJob.objects.get(dataset=w.dataset)
    assert first["Location"] == second["Location"] == reverse("portal:ingestion-detail", args=[job.pk])
    assert job.status == JobStatus.SUCCEEDED and job.rows_accepted == 4 and job.encoding == "gb18030"


def test_the_mapping_step_preselects_guesses_and_loads_with_the_chosen_columns(w, django_capture_on_commit_callbacks):
    client = client_for(w.steward)
    url = reverse("portal:dataset-upload", args=[w.dataset.pk])
    rows = resident_rows(3)
    rows[0][1] = "Full name"  # not a label of the standard: no guess for `name`
    key = "k-" + "1" * 30

    preview = client.post(url, {"file": upload("people.csv", csv_bytes(rows)), "idempotency_key": key}, **EN)

    assert preview.status_code == 200
    mapping_form = preview.context["mapping_form"]
    assert mapping_form["col_id_number"].value() == "身份证号"
    assert mapping_form["col_name"].value() == ""
    assert preview.context["header"][1] == "Full name" and len(preview.context["sample"]) == 3
    token = mapping_form["token"].value()
    choices = {f"col_{f['name']}": mapping_form[f"col_{f['name']}"].value() for f in w.standard.fields}

    refused = client.post(url, {"token": token, "idempotency_key": key, **choices}, **EN)
    assert refused.status_code == 400
    assert "required by the standard" in str(refused.context["mapping_form"].errors["col_name"])
    assert not IngestionJob.objects.exists()

    chosen = choices | {"col_name": "Full name"}
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"token": token, "idempotency_key": key, "save_mapping_as": "Clinic export", **chosen})
    again = client.post(url, {"token": token, "idempotency_key": key, "save_mapping_as": "Clinic export", **chosen})

    job = IngestionJob.objects.get()
    assert done["Location"] == again["Location"] == reverse("portal:ingestion-detail", args=[job.pk])
    assert job.columns["name"] == "Full name" and job.rows_accepted == 3
    assert ColumnMapping.objects.get(dataset=w.dataset, name="Clinic export").columns["name"] == "Full name"


def test_a_saved_mapping_is_preselected_on_the_mapping_step(w):
    mapping = services.mapping_save(
        actor=w.steward, dataset=w.dataset, name="Export", columns={"id_number": "身份证号", "name": "住址"}
    )
    preview = client_for(w.steward).post(
        reverse("portal:dataset-upload", args=[w.dataset.pk]),
        {"file": upload("p.csv", csv_bytes(resident_rows(2))), "mapping": mapping.pk},
    )
    assert preview.context["mapping_form"]["col_name"].value() == "住址"


def test_a_file_that_is_not_text_is_refused_on_the_first_step_in_the_users_language(w):
    client = client_for(w.steward)
    url = reverse("portal:dataset-upload", args=[w.dataset.pk])
    binary = upload("x.csv", b"\x00\x01\x02 binary")
    response = client.post(url, {"file": binary}, **EN)
    assert response.status_code == 400
    assert "not CSV, Excel (.xlsx) or JSON lines" in str(response.context["form"].errors["file"])
    with translation.override("zh-hans"):
        expected = translation.gettext("The file is not CSV, Excel (.xlsx) or JSON lines.")
    chinese = client.post(url, {"file": upload("x.csv", b"\x00\x01\x02 binary")}, **ZH)
    assert expected in str(chinese.context["form"].errors["file"])


def test_uploads_are_for_the_owners_stewards(w):
    url = reverse("portal:dataset-upload", args=[w.dataset.pk])
    assert client_for(w.staff).get(url).status_code == 403
    assert client_for(w.outsider).get(url).status_code == 403  # sees the dataset, may not manage it
    data = {"file": upload("a.csv", csv_bytes(resident_rows(2))), "step": "load"}
    assert client_for(w.staff).post(url, data).status_code == 403
    assert not IngestionJob.objects.exists()


# --- a job ---------------------------------------------------------------------------------------


def test_the_progress_fragment_polls_until_the_job_ends_then_brings_the_results(w):
    with transaction.atomic():
        job = services.ingestion_submit_file(
            actor=w.steward,
            dataset=w.dataset,
            upload=services.spool_upload(csv_bytes(bad_rows(5, 2)), "p.csv"),
        )
    client = client_for(w.steward)
    fragment_url = reverse("portal:ingestion-progress", args=[job.pk])

    page = html(client.get(reverse("portal:ingestion-detail", args=[job.pk]), **EN))
    assert f'hx-get="{fragment_url}"' in page and 'hx-trigger="every 1s"' in page
    assert "/static/vendor/htmx/htmx.min.js" in page
    assert '<section id="job-results"' in page
    queued = client.get(fragment_url, HTTP_HX_REQUEST="true", **EN)
    assert 'hx-trigger="every 1s"' in html(queued) and "0%" in html(queued)
    assert queued["Cache-Control"] == "no-store"

    services.ingestion_run(job.pk)
    done = html(client.get(fragment_url, HTTP_HX_REQUEST="true", **EN))

    assert "hx-get" not in done and "100%" in done
    assert re.search(r'class="rows-read">7<', done) and re.search(r'class="rows-rejected">2<', done)
    assert 'id="job-results" class="card" hx-swap-oob="true"' in done
    assert reverse("portal:ingestion-rejects-csv", args=[job.pk]) in done
    assert done.count("The value is out of range.") == 2


def test_a_failed_job_says_why_in_the_readers_language(w):
    rows = [r[2:] for r in resident_rows(3)]  # no ID number and no name column
    job = load_bytes(w.steward, w.dataset, csv_bytes(rows))
    assert job.status == JobStatus.FAILED
    client = client_for(w.steward)
    url = reverse("portal:ingestion-detail", args=[job.pk])

    english = html(client.get(url, **EN))
    chinese = html(client.get(url, **ZH))

    assert "Required fields have no column in the file: id_number, name" in english
    with translation.override("zh-hans"):
        expected = translation.gettext("Required fields have no column in the file: %(fields)s") % {
            "fields": "id_number, name"
        }
    assert expected in chinese
    assert "hx-get" not in english


def test_the_rejected_rows_download_as_formula_safe_csv_and_load_again_once_fixed(w):
    job = load_bytes(w.steward, w.dataset, csv_bytes(bad_rows(5, 3), "gb18030"))
    assert (job.rows_accepted, job.rows_rejected) == (5, 3)
    client = client_for(w.steward)

    response = client.get(reverse("portal:ingestion-rejects-csv", args=[job.pk]), **EN)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"rejected-rows-job-{job.pk}.csv" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    header, rows = table[0], table[1:]
    assert header[:3] == ["Line", "Field", "Reason"]  # English: the source text of pgettext("rejected row", …)
    assert header[3:] == [f["label"] for f in w.standard.fields]  # the file's columns, in the standard's order
    assert [r[0] for r in rows] == ["7", "8", "9"]
    assert {r[1] for r in rows} == {"Age"} and {r[2] for r in rows} == {"The value is out of range."}
    age = header.index("年龄")
    assert {r[age] for r in rows} == {"'-1"}  # a formula-like cell is neutralised

    for r in rows:
        r[age] = "40"
    fixed = io.StringIO()
    csv.writer(fixed).writerows([header, *rows])
    again = load_bytes(w.steward, w.dataset, fixed.getvalue().encode("utf-8"), name="fixed.csv")

    assert (again.rows_read, again.rows_accepted, again.rows_rejected) == (3, 3, 0)
    assert Record.objects.filter(dataset=w.dataset).count() == 8


def test_jobs_are_the_owners_and_the_submitters(w):
    job = load_bytes(w.steward, w.dataset, csv_bytes(bad_rows(2, 1)))
    assert client_for(w.staff).get(reverse("portal:ingestion-detail", args=[job.pk])).status_code == 200
    for name in ("portal:ingestion-detail", "portal:ingestion-progress", "portal:ingestion-rejects-csv"):
        assert client_for(w.outsider).get(reverse(name, args=[job.pk])).status_code == 404
    listed = client_for(w.staff).get(reverse("portal:ingestion-list"), {"dataset": w.dataset.pk})
    assert [j.pk for j in listed.context["object_list"]] == [job.pk]
    assert list(client_for(w.outsider).get(reverse("portal:ingestion-list")).context["object_list"]) == []


# --- the asset register and the standards --------------------------------------------------------


def test_the_asset_register_shows_size_freshness_quality_and_use_with_local_charts(w):
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(4)))
    client_for(w.staff).get(reverse("portal:dataset-records", args=[w.dataset.pk]))  # one read of 4 rows
    services.dataset_use(dataset=w.dataset, department=w.other, rows=10)

    response = client_for(w.head).get(reverse("portal:asset-register"), **EN)

    page = html(response)
    row = re.search(rf'<tr id="asset-{w.dataset.pk}">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r'<td class="num"[^>]*>(.*?)</td>', row, re.S)
    assert [c.strip() for c in cells][0] == "4"
    assert [c.strip() for c in cells][-3:] == ["2", "14", "2"]  # reads, rows, reading departments
    assert response.context["use_chart"]["series"][0]["data"] == [2]
    assert "/static/vendor/chartjs/chart.umd.min.js" in page and "/static/js/datapool.js" in page
    assert w.dataset.title not in html(client_for(w.outsider).get(reverse("portal:asset-register")))

    detail = client_for(w.head).get(reverse("portal:asset-detail", args=[w.dataset.pk]), **EN)
    assert {r["department__name"] for r in detail.context["usage"]} == {w.owner.name, w.other.name}
    assert client_for(w.outsider).get(reverse("portal:asset-detail", args=[w.dataset.pk])).status_code == 404


def test_standards_list_and_detail(w):
    client = client_for(w.outsider)
    listing = html(client.get(reverse("portal:standard-list"), **EN))
    assert w.standard.name in listing
    detail = client.get(reverse("portal:standard-detail", args=[w.standard.pk]), **EN)
    page = html(detail)
    assert "Uniqueness" in page and "Vulnerable person" in page and "重点关爱" in page
    assert '"required": [' in detail.context["schema"]
    assert w.dataset.title in page


# --- no CDN --------------------------------------------------------------------------------------


def test_every_page_loads_only_local_assets(w):
    job = load_bytes(w.steward, w.dataset, csv_bytes(bad_rows(3, 1)))
    client = client_for(w.steward)
    urls = [
        reverse("portal:dataset-list"),
        reverse("portal:dataset-create"),
        reverse("portal:dataset-detail", args=[w.dataset.pk]),
        reverse("portal:dataset-update", args=[w.dataset.pk]),
        reverse("portal:dataset-records", args=[w.dataset.pk]),
        reverse("portal:dataset-upload", args=[w.dataset.pk]),
        reverse("portal:ingestion-list"),
        reverse("portal:ingestion-detail", args=[job.pk]),
        reverse("portal:asset-register"),
        reverse("portal:asset-detail", args=[w.dataset.pk]),
        reverse("portal:standard-list"),
        reverse("portal:standard-detail", args=[w.standard.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html(response)):
            assert not re.match(r"^(https?:)?//", ref), f"{url} loads {ref} from elsewhere"
        assert "<script>" not in html(response), f"{url} has an inline script"


def test_a_member_of_no_department_sees_an_empty_catalog(w):
    nobody = f.UserFactory()
    response = client_for(nobody).get(reverse("portal:dataset-list"))
    assert response.status_code == 200 and list(response.context["object_list"]) == []
