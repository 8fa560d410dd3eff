"""The whole pipeline at scale: ``sqs-blueprint demo --messages N --wcu W`` in a process
of its own, its summary (``--json``) and its peak memory in one table.

The target (issue: extreme scale): every unique record written, 0 lost, 0 written
twice, no second over the provisioned WCU, and a drain within 1.2x of the ideal (the
WCU written at the provisioned rate). The demo's own accounting is checked against
the server's write meter, not the library's counters; the peak memory is the
kernel's (``getrusage``: the largest resident set of the demo's process and the
function processes it ran, which is the demo's own). ``BENCH_DEMO_MESSAGES`` and ``BENCH_DEMO_WCU``
change the size (default 100,000 records at 1,000 WCU: about 7 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

MESSAGES = int(os.environ.get("BENCH_DEMO_MESSAGES", "100000"))
WCU = int(os.environ.get("BENCH_DEMO_WCU", "1000"))
TARGET_RATIO = 1.2


def run(messages: int = MESSAGES, wcu: int = WCU) -> tuple[dict[str, Any], float, float]:
    """The demo's summary, its wall time (s) and its peak resident memory (GB)."""
    started = time.monotonic()
    command = ["demo", "--messages", str(messages), "--wcu", str(wcu), "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "sqs_blueprint.cli", *command],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"the demo could not run ({done.returncode}): {done.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return summary, wall, peak_kb / 1024**2


def main() -> None:
    load = os.getloadavg()[0]
    summary, wall, peak_gb = run()
    ratio = summary["drain_s"] / summary["ideal_drain_s"] if summary["ideal_drain_s"] else 0.0
    print(
        f"demo --messages {MESSAGES} --wcu {WCU} (load {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end)"
    )
    rows = [
        ("completed", str(summary["completed"])),
        ("unique records", f"{summary['unique']:,}"),
        ("written", f"{summary['written']:,}"),
        ("lost", str(summary["lost"])),
        ("written twice", str(summary["written_twice"])),
        ("in the DLQ / in flight", f"{summary['waiting_in_dlq']} / {summary['in_flight']}"),
        (
            "highest second",
            f"{summary['max_write_rate_wcu']:,} WCU of {summary['provisioned_wcu']:,}",
        ),
        (
            "drain",
            f"{summary['drain_s']:.1f} s, {ratio:.2f}x the ideal {summary['ideal_drain_s']:.0f} s "
            f"(target {TARGET_RATIO}x)",
        ),
        ("elapsed", f"{summary['elapsed_s']:.1f} s in the demo, {wall:.1f} s wall clock"),
        ("peak memory", f"{peak_gb:.2f} GB (the largest process)"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
