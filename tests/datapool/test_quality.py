"""Quality scores (数据质量): one per load and one for the dataset after each load, kept as
history; validity, row rules, uniqueness and freshness each move the score the way they should.

The resident standard scores validity (weight 1), uniqueness of the ID number (2), freshness (1),
and a phone and an address being present (1 each): six in all."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.datapool import services
from apps.datapool.demo import standards_ensure
from apps.datapool.models import Dataset, QualityCheck, QualityRule
from apps.datapool.quality import quality_refresh
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows

pytestmark = pytest.mark.django_db


def results(check) -> dict:
    return {(r["kind"], r["field"]): r for r in check.results}


def dataset_scores(dataset) -> list[float]:
    return list(QualityCheck.objects.filter(dataset=dataset, job=None).order_by("id").values_list("score", flat=True))


def test_a_clean_load_scores_100_for_the_load_and_the_dataset():
    w = pool_world()
    job = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(10)))
    assert job.quality_score == 100.0
    job_check = QualityCheck.objects.get(job=job)
    assert job_check.rows == 10 and job_check.score == 100.0
    assert set(results(job_check)) == {
        ("validity", ""),
        ("uniqueness", ""),
        ("freshness", ""),
        ("required", "phone"),
        ("required", "address"),
    }
    w.dataset.refresh_from_db()
    assert (w.dataset.quality_score, w.dataset.record_count) == (100.0, 10)
    assert dataset_scores(w.dataset) == [100.0]


def test_rejected_rows_and_missing_values_lower_the_load_and_the_dataset_history():
    w = pool_world()
    first = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(10)))
    rows = resident_rows(10, seed=8, place="320102", bad=1)  # other people; one row rejected
    rows[1][2] = rows[2][2] = ""  # two without a phone (loaded: a scoring rule, not a hard check)
    second = load_bytes(w.steward, w.dataset, csv_bytes(rows))
    assert (second.rows_read, second.rows_accepted) == (11, 10)
    check = results(QualityCheck.objects.get(job=second))
    assert check[("validity", "")]["rate"] == pytest.approx(10 / 11)
    assert (check[("required", "phone")]["failed"], check[("required", "phone")]["rate"]) == (2, 0.8)
    # (10/11 + 2 + 1 + 0.8 + 1) / 6
    assert second.quality_score == pytest.approx(95.2) and second.quality_score < first.quality_score
    # the dataset as a whole: 20 of 21 rows valid, 2 of 20 without a phone
    assert dataset_scores(w.dataset) == [100.0, pytest.approx(97.5)]
    w.dataset.refresh_from_db()
    assert w.dataset.quality_score == pytest.approx(97.5) and w.dataset.record_count == 20


def test_duplicate_identities_lower_uniqueness():
    w = pool_world()
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(10)))
    again = resident_rows(10)  # the same ten people, registered again with another age
    for values in again[1:]:
        values[5] = str(int(values[5]) + 1)
    job = load_bytes(w.steward, w.dataset, csv_bytes(again))
    uniqueness = results(QualityCheck.objects.get(job=job))[("uniqueness", "")]
    assert (uniqueness["rows"], uniqueness["failed"], uniqueness["rate"]) == (20, 10, 0.5)
    assert job.quality_score == pytest.approx(100 * 5 / 6, abs=0.1)  # weight 2 at half
    assert dataset_scores(w.dataset)[-1] == pytest.approx(100 * 5 / 6, abs=0.1)


def test_a_stale_dataset_loses_freshness_until_the_next_load():
    w = pool_world()
    services.dataset_update(actor=w.steward, dataset=w.dataset, update_frequency="hourly")
    load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(5)))
    dataset = Dataset.objects.get(pk=w.dataset.pk)
    later = dataset.last_loaded_at + timezone.timedelta(hours=3)
    stale = quality_refresh(dataset=dataset, now=later)
    assert results(stale)[("freshness", "")]["failed"] == 1
    assert stale.score == pytest.approx(100 * 5 / 6, abs=0.1)
    assert Dataset.objects.get(pk=w.dataset.pk).quality_score == stale.score
    fresh = quality_refresh(dataset=dataset, now=dataset.last_loaded_at + timezone.timedelta(minutes=30))
    assert fresh.score == 100.0
    assert dataset_scores(w.dataset) == [100.0, stale.score, 100.0]  # every measurement is kept


def test_range_pattern_and_code_list_rules_score_accepted_rows():
    w = pool_world()
    fever = standards_ensure()["fever-clinic"]  # temperature: hard limits 34-43, scored 35-42
    dataset = services.dataset_create(actor=w.steward, owner=w.owner, standard=fever, title="发热门诊")
    header = ["身份证号", "姓名", "联系电话", "就诊机构", "行政区划代码", "体温", "就诊时间"]
    rows = [header] + [
        [f"32010619900101{1000 + i}", "王芳", "13812345678", "鼓楼医院", "320106", t, f"2026-11-01 0{i}:00"]
        for i, t in enumerate(["36.5", "37.0", "34.5", "42.5"])
    ]
    job = load_bytes(w.steward, dataset, csv_bytes(rows))
    assert job.rows_accepted == 4  # scored, not rejected
    in_range = results(QualityCheck.objects.get(job=job))[("range", "temperature")]
    assert (in_range["failed"], in_range["rate"]) == (2, 0.5)
    assert job.quality_score == pytest.approx(90.0)  # (1 + 2 + 1 + 0.5) / 5

    QualityRule.objects.create(standard=fever, kind="pattern", field="phone", params={"pattern": r"1[3-9]\d{9}"})
    QualityRule.objects.create(standard=fever, kind="code_list", field="clinic", params={"codes": ["鼓楼医院"]})
    rows = [header] + [
        [f"32010619900101{2000 + i}", "李娜", phone, clinic, "320106", "36.6", f"2026-11-02 0{i}:00"]
        for i, (phone, clinic) in enumerate([("13812345678", "鼓楼医院"), ("025-8888", "市一医院"), ("", "鼓楼医院")])
    ]
    job = load_bytes(w.steward, dataset, csv_bytes(rows))
    check = results(QualityCheck.objects.get(job=job))
    assert (check[("pattern", "phone")]["failed"], check[("code_list", "clinic")]["failed"]) == (1, 1)  # empty passes
    assert check[("range", "temperature")]["failed"] == 0
    # (1 + 2 + 1 + 1 + 2/3 + 2/3) / 7
    assert job.quality_score == pytest.approx(100 * (5 + 4 / 3) / 7, abs=0.1)
