"""A property-based run of the whole OpenAPI description (schemathesis): every
operation with generated parameters, as an admin (every route open to it): no
5xx, every response's status, content type and body as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from credgraph.api.app import create_app
from credgraph.graph.settings import load_settings
from tests.api.conftest import World

pytestmark = pytest.mark.integration


# The app is built at import (schemathesis reads its description while collecting);
# the fixture points it at the test database before the first call.
APP = create_app(load_settings())
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP
schema.location = "/openapi.json"


@pytest.fixture(autouse=True)
def _app_on_test_database(world: World) -> None:
    APP.state.settings = world.settings
    APP.state.gateway = world.gw


CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_as_documented(case: schemathesis.Case, world: World) -> None:
    # Paths that name a subject or run get real ones now and then, so the 200
    # answers are checked, not only the 404s.
    if case.path_parameters:
        for name in ("subject_id",):
            if name in case.path_parameters and case.path_parameters[name].startswith("0"):
                case.path_parameters[name] = world.explained
    case.call_and_validate(headers=world.headers("admin"), checks=CHECKS)
