import pytest

from apps.datapool.models import Record, RejectedRow
from tests.datapool.world import csv_bytes, load_bytes, pool_world, resident_rows

pytestmark = pytest.mark.django_db


def test_gb18030_csv_loads_good_rows_and_keeps_bad_ones():
    w = pool_world()
    job = load_bytes(w.steward, w.dataset, csv_bytes(resident_rows(50, bad=3), "gb18030"))
    assert job.status == "succeeded", job.error_message()
    assert job.encoding == "gb18030"
    assert (job.rows_read, job.rows_accepted, job.rows_rejected) == (53, 50, 3)
    assert Record.objects.filter(dataset=w.dataset).count() == 50
    assert RejectedRow.objects.filter(job=job, field="age").count() == 3
