"""Check one Django test-client response against the OpenAPI schema the application serves: for
regression tests of what the schema fuzzer found, without fuzzing."""

from functools import cache

import requests
import schemathesis
from django.test import Client


@cache
def _schema():
    body = Client().get("/api/v1/schema/", {"format": "json"}).json()
    return schemathesis.openapi.from_dict(body)


def assert_documented(response, method: str, path: str) -> None:
    """`response` to `method path` (the schema's path template, e.g. "/api/v1/regions/{id}/") has a
    status code the schema documents for the operation, and a body that conforms to it."""
    schema = _schema()
    operation = schema[path][method.upper()]
    documented = operation.responses.status_codes
    assert str(response.status_code) in documented, f"{response.status_code} not documented: {sorted(documented)}"
    wrapped = schemathesis.Response(
        status_code=response.status_code,
        headers={name.lower(): [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method.upper(), f"http://testserver{path}").prepare(),
        elapsed=0.0,
        verify=False,
    )
    schema.validate_response(operation, wrapped)
