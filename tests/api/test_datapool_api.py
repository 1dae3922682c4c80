import pytest

from tests.matrix import datapool_world  # noqa: F401
from tests.matrix.harness import world  # noqa: F401

pytestmark = pytest.mark.django_db


def test_world_builds(world):
    for name in ["pool_dataset", "pool_secret_dataset", "pool_job", "pool_record", "pool_reject", "pool_mapping", "pool_use", "pool_group_dataset", "pool_second_job"]:
        assert getattr(world, name) is not None, name
    assert world.pool_job.rows_rejected == 2
