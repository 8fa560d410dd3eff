"""The fair-queue benchmark's own checks: its traffic, its percentile, a small run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest

from bench.bench_fair import NOISY, Written, percentile, scenario, traffic
from sqs_blueprint.local import moto_fixes


class MotoCloud:
    """The benchmark's view of a cloud: clients, here on moto's in-process mock."""

    def client(self, service: str) -> Any:
        return boto3.client(service)


def test_the_noisy_tenant_sends_ratio_times_each_quiet_tenant() -> None:
    tenants = traffic(quiet_tenants=3, quiet_messages=5, ratio=20, seed=1)
    assert Counter(tenants) == {NOISY: 100, "tenant-0": 5, "tenant-1": 5, "tenant-2": 5}
    # Mixed round by round: every round of 23 holds one message of each quiet tenant.
    for start in range(0, len(tenants), 23):
        assert Counter(tenants[start : start + 23])["tenant-1"] == 1
    assert tenants == traffic(quiet_tenants=3, quiet_messages=5, ratio=20, seed=1)
    assert tenants != traffic(quiet_tenants=3, quiet_messages=5, ratio=20, seed=2)


@pytest.mark.parametrize(
    ("values", "share", "expected"),
    [
        ([3.0, 1.0, 2.0], 0.5, 2.0),
        (list(map(float, range(1, 101))), 0.95, 95.0),
        (list(map(float, range(1, 21))), 0.95, 19.0),
        ([7.0], 0.95, 7.0),
    ],
)
def test_percentile_is_the_nearest_rank(values: list[float], share: float, expected: float) -> None:
    assert percentile(values, share) == expected


def test_percentile_of_nothing_says_so() -> None:
    with pytest.raises(ValueError) as error:
        percentile([], 0.95)
    assert str(error.value) == "percentile of no values: the scenario wrote no records"


def test_written_splits_quiet_from_noisy() -> None:
    written = Written()
    for tenant in (NOISY, "tenant-0", NOISY, "tenant-1"):
        written.add(tenant)
    assert (len(written.noisy()), len(written.quiet()), written.count) == (2, 2, 4)


@pytest.mark.parametrize("with_tenants", [False, True])
def test_a_small_run_writes_every_message_once(aws: None, with_tenants: bool) -> None:
    moto_fixes.apply()  # as the local cloud does when it starts
    tenants = traffic(quiet_tenants=2, quiet_messages=3, ratio=5, seed=3)
    result = scenario(MotoCloud(), tenants, with_tenants, pollers=3)
    counts = {tenant: len(values) for tenant, values in result.written.latencies.items()}
    assert counts == Counter(tenants)
    assert result.row().startswith(
        f"| {'with' if with_tenants else 'without'} tenant ids | {len(tenants)} |"
    )
