"""CPU per record: exact keys and items against the naive key, side by side.

The naive rival is ``sha256(json.dumps(body, sort_keys=True))`` of ``json.loads``'
output: fast, but not exact (``1``, ``1.0`` and ``1e0`` get three keys, floats lose
digits). Ours is :func:`~sqs_blueprint.items.item_key` and
:func:`~sqs_blueprint.items.to_item` of :func:`~sqs_blueprint.items.parse_body`'s
output. Both run over the same distinct records (order lines with prices written
by Python's ``json.dumps``, so some read ``21.0``), interleaved, and report the
minimum and median of repeated runs, as the machine may be busy.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqs_blueprint.items import item_key, parse_body, to_item

RECORDS = 200
RUNS = 15
SIZES = (1_024, 16_384)


def _record(size: int, rnd: random.Random) -> str:
    """One order of about ``size`` bytes of JSON."""
    order: dict[str, Any] = {
        "order_id": f"o-{rnd.randrange(10**6):06d}",
        "customer": {"id": f"c-{rnd.randrange(1000)}", "name": "Zoë Müller", "tier": "gold"},
        "amount": round(rnd.random() * 5000, 2),
        "currency": "EUR",
        "created": "2026-12-04T15:53:19.123Z",
        "paid": True,
        "lines": [],
    }
    while len(json.dumps(order)) < size:
        order["lines"].append(
            {
                "sku": f"sku-{rnd.randrange(10**5):05d}",
                "qty": rnd.randrange(1, 8),
                "price": round(rnd.random() * 100, 2),
                "note": None,
            }
        )
    return json.dumps(order)


def _naive(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _per_record(run: Callable[[Any], object], values: list[Any]) -> float:
    started = time.perf_counter()
    for value in values:
        run(value)
    return (time.perf_counter() - started) / len(values) * 1e6


def measure(size: int, runs: int = RUNS) -> dict[str, list[float]]:
    """µs per record of each contender, one figure per run."""
    rnd = random.Random(size)
    bodies = [_record(size, rnd) for _ in range(RECORDS)]
    ours = [parse_body(body) for body in bodies]
    plain = [json.loads(body) for body in bodies]
    contenders: dict[str, tuple[Callable[[Any], object], list[Any]]] = {
        "naive: sha256(json.dumps(sort_keys=True))": (_naive, plain),
        "ours: item_key": (item_key, ours),
        "ours: to_item (key included)": (to_item, ours),
    }
    figures: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(runs):  # interleaved, so that load spikes hit every contender
        for name, (run, values) in contenders.items():
            figures[name].append(_per_record(run, values))
    return figures


def main() -> None:
    print(f"CPU per record, µs: min / median of {RUNS} runs over {RECORDS} distinct records")
    print(f"{'record':>8}  {'contender':<42} {'min':>7} {'median':>7} {'x naive':>8}")
    for size in SIZES:
        figures = measure(size)
        naive = statistics.median(next(iter(figures.values())))
        for name, runs in figures.items():
            median = statistics.median(runs)
            print(
                f"{size / 1024:>6.0f}KB  {name:<42} {min(runs):>7.1f} {median:>7.1f}"
                f" {median / naive:>7.2f}x"
            )
    print()


if __name__ == "__main__":
    main()
