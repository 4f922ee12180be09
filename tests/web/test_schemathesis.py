"""Property-based run of the OpenAPI schema (schemathesis) against a live server: no server errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from domain.clock import FixedClock
from storage.uow import UnitOfWorkFactory
from tests.web.county import County
from tests.web.live import live_server
from tests.web.test_api import token_for

schemathesis = pytest.importorskip("schemathesis")
MAX_EXAMPLES = 30  # per operation and mode: enough to hit bounds, NUL bytes and odd types in < 60 s


@pytest.fixture
async def api_headers(uow_factory: UnitOfWorkFactory, county: County) -> dict[str, str]:
    return await token_for(uow_factory, county, "township")


def _fuzz(operation: Any, mode: Any, url: str, headers: dict[str, str]) -> None:
    """Generates requests for one operation; positive ones must also match the documented responses."""
    from schemathesis.checks import CheckFunction, not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import response_schema_conformance

    checks: list[CheckFunction] = [not_a_server_error]
    if mode is GenerationMode.POSITIVE:
        checks.append(response_schema_conformance)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=10)
        case.validate_response(response, checks=checks)

    run()


def test_the_api_answers_every_generated_request_without_a_server_error(
    database_url: str, media_dir: Path, clock: FixedClock, api_headers: dict[str, str]
) -> None:
    from schemathesis.generation import GenerationMode

    with live_server(database_url, media_dir, clock) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert (
            len(operations) == 7
        )  # cases, a case, its events, statistics, decisions, escalations, acknowledge
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(operation, mode, url, api_headers)
