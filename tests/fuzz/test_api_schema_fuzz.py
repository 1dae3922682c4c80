"""Attack the API from its own schema: schemathesis generates requests for every operation of
/api/v1/schema/ and sends them through the in-process WSGI application (see harness.py).

- Without credentials (or with a forged integration key) every operation answers 401.
- As a department's staff, its head, the same department's integration key, and staff of
  another region: no 5xx, only documented status codes and content types, bodies that conform to
  the schema, 4xx for input the schema forbids (negative cases), and never an object of the other
  tenant (its marker in a body, or a 2xx for one of its private objects addressed by id). Each
  operation is fuzzed on its own, then short stateful scenarios chain calls along the links
  schemathesis infers (a list's ids feed the actions on those objects).

Reproducible: Hypothesis is derandomized and the example counts are fixed; the module takes about
two minutes on two cores. For a deeper local run multiply the counts:
FUZZ_SCALE=10 make test PYTEST_ARGS="tests/fuzz --timeout=0".
"""

import os

import pytest
from schemathesis import GenerationMode

from tests.fuzz import harness

pytestmark = pytest.mark.django_db

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE

# principal: (examples per operation in positive mode, in negative mode, stateful scenarios of at
# most STEPS calls). The department's people reach every action (staff; head: head-only routes);
# the integration key and the other region's staff mostly exercise scope, so they get fewer cases.
PLANS = {
    "a_staff": (3, 2, 15),
    "a_head": (3, 2, 15),
    "a_key": (2, 0, 0),
    "b_staff": (3, 1, 10),
}
STEPS = 6


def _principal(name: str, world) -> harness.Principal:
    if name == "a_key":
        return harness.key_principal(name, world.a)
    tenant = world.b if name.startswith("b_") else world.a
    user = {"staff": tenant.staff, "head": tenant.head}[name.split("_", 1)[1]]
    return harness.session_principal(name, user, tenant)


def _report(findings) -> str:
    return f"{len(findings)} finding(s):\n\n" + "\n\n".join(str(f) for f in findings)


def test_every_operation_refuses_requests_without_valid_credentials(schema, world, fuzz_errors):
    findings = harness.unauthenticated_findings(schema, world, fuzz_errors, max_examples=2 * SCALE)
    assert not findings, _report(findings)


@pytest.mark.parametrize("name", list(PLANS))
def test_every_operation_as_principal_keeps_to_the_schema_and_the_tenant(name, schema, world, fuzz_errors):
    positive, negative, scenarios = PLANS[name]
    principal = _principal(name, world)
    findings = harness.fuzz(schema, principal, world, fuzz_errors, mode=POSITIVE, max_examples=positive * SCALE)
    if negative:
        findings += harness.fuzz(schema, principal, world, fuzz_errors, mode=NEGATIVE, max_examples=negative * SCALE)
    if scenarios:
        findings += harness.stateful_findings(
            schema, principal, world, fuzz_errors, scenarios=scenarios * SCALE, steps=STEPS
        )
    assert not findings, _report(findings)
