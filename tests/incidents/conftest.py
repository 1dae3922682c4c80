import pytest

from tests.incidents.world import build_world


@pytest.fixture
def w(db):
    """The incidents world (see `tests/incidents/world.py`)."""
    return build_world()
