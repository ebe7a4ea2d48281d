"""Property-based tests of the API against its own OpenAPI schema (schemathesis): whatever is sent, the
answer is never a 500 and matches the documented response schema. Bounded: few examples, and fewer for the
endpoints that run the model."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from assistant import Assistant, load_settings
from shells.api import create_api
from tests.support import indexed_settings

KEY = "schema-key"
CHECKS = [not_a_server_error, response_schema_conformance]
MODEL_PATHS = r"^/(api/ask|api/ask/stream|v1/chat/completions)$"


# The schema is loaded when the module is imported (schemathesis' lazy fixture loader does not work with this
# pytest); the Assistant loads nothing until first used, and the fixture below indexes and warms it up first.
DATA_DIR = Path(tempfile.mkdtemp(prefix="brief-schema-")) / ".brief"
ASSISTANT = Assistant(load_settings(data_dir=str(DATA_DIR), max_document_bytes=64 << 10))
APP = create_api(ASSISTANT, ASSISTANT.settings, api_key=KEY)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, headers={"Authorization": f"Bearer {KEY}"})  # guarded too


@pytest.fixture(scope="module", autouse=True)
def indexed_and_warm():
    indexed_settings(DATA_DIR)
    ASSISTANT.warm_up()
    yield
    shutil.rmtree(DATA_DIR.parent, ignore_errors=True)


@schema.exclude(path_regex=MODEL_PATHS).parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_fast_endpoints_never_fail(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS)


@schema.include(path_regex=MODEL_PATHS).parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_model_endpoints_never_fail(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_without_the_key_every_protected_endpoint_is_401(case):
    response = case.call()
    assert response.status_code < 500
    if response.status_code == 405:  # schemathesis also tries undocumented methods: routing answers first
        return
    if case.path.startswith(("/api/", "/v1/")):
        assert response.status_code == 401, (case.path, response.status_code)
        assert set(response.json()) == {"error"}
    else:
        assert response.status_code in {200, 503}
