"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Every operation in ``/openapi.json`` gets ``max_examples`` generated requests, authenticated as a
registered user; each response must not be a server error, must match the documented schema and
content type. Operations that end the session (log out, erase the account) get a fresh account each.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from schemathesis.core.result import Ok

PASSWORD = "fuzzing-password-123"
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
ENDS_SESSION = {("DELETE", "/api/v1/me"), ("DELETE", "/api/v1/sessions/current")}


@dataclass
class FuzzReport:
    operations: int = 0
    documented: int = 0  # operations in /openapi.json
    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    failures: list[str] = field(default_factory=list)
    per_operation: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.operations} operations, {self.examples} requests, {self.server_errors} server errors, "
            f"{len(self.failures)} check failures; statuses {dict(sorted(self.statuses.items()))}"
            + ("".join(f"\n  {f}" for f in self.failures[:20]))
        )


def _account(base: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:12]
    email = f"fuzz-{tag}@example.org"
    with httpx.Client(base_url=base, timeout=60) as http:
        body = {"email": email, "password": PASSWORD, "alias": f"fz{tag}", "consent": True}
        r = http.post("/api/v1/users", json=body)
        r.raise_for_status()
        r = http.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


Headers = Callable[[tuple[str, str]], dict[str, str] | None]


def fuzz_api(
    base: str,
    max_examples: int = 10,
    seed: int = 0,
    only: Callable[[str], bool] | None = None,
    auth: Headers | None = None,
) -> FuzzReport:
    """``only``: fuzz just the operations whose path it accepts; ``auth``: the headers for an operation
    (None: the registered user's bearer token), e.g. an application's Basic credentials."""
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    report = FuzzReport()
    raw = httpx.get(f"{base}/openapi.json", timeout=60).json()
    report.documented = sum(len(item) for item in raw["paths"].values())
    main = _account(base)
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            report.failures.append(f"operation not loadable: {result}")
            continue
        op = result.ok()
        key = (op.method.upper(), op.path)
        if only is not None and not only(op.path):
            continue
        label = f"{key[0]} {key[1]}"
        report.operations += 1
        report.per_operation[label] = 0

        headers = (auth(key) if auth is not None else None) or main
        _fuzz_operation(base, op, key, label, headers, max_examples, report)()
    return report


def _fuzz_operation(
    base: str, op: Any, key: tuple[str, str], label: str, main: dict[str, str], max_examples: int, report: FuzzReport
) -> Any:
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=op.as_strategy())
    def run(case: Any) -> None:
        headers = _account(base) if key in ENDS_SESSION else main
        response = case.call(base_url=base, headers=headers, timeout=120)
        report.examples += 1
        report.per_operation[label] += 1
        report.statuses[response.status_code] += 1
        report.server_errors += response.status_code >= 500
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collect every failure; the caller decides
            report.failures.append(f"{label} -> {response.status_code}: {type(exc).__name__}: {str(exc)[:400]}")

    return run
