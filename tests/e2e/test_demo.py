"""`sqs-blueprint demo --json`, the main job, run as a user runs it (a separate process).

Its figures come from the local cloud's write meter, which counts every
DynamoDB write at the server; the expectations here are computed from the
workload the demo describes, not read back from the demo's own plan.
"""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app import build_app
from tests.infra.conftest import cdk_context

# A demo run is a synth and a minute of traffic; its subprocess may take 600 s.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DEMO = [sys.executable, "-m", "sqs_blueprint.cli", "demo"]
# --messages 20: 20 ordinary records (1 WCU items), 4 duplicates of them, 2 large
# bodies of 20,000 bytes (20 WCU items: ceil(20.1 KB)), 2 partner records (1 WCU).
ORDINARY, DUPLICATES, LARGE, PARTNER = 20, 4, 2, 2
LARGE_WCU = math.ceil(20_100 / 1024)


def test_demo_synthesizes_the_local_stage_and_every_record_is_written_once(
    tmp_path: Path,
) -> None:
    assembly = tmp_path / "cdk.out.local"  # empty: the demo synthesizes the local stage
    command = [*DEMO, "--json", "--messages", "20", "--cdk-out", str(assembly)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (assembly / "manifest.json").is_file()
    (line,) = done.stdout.splitlines()  # --json: one object and nothing else on stdout
    summary = json.loads(line)
    unique = ORDINARY + LARGE + PARTNER
    assert summary["produced"] == unique + DUPLICATES and summary["unique"] == unique
    assert summary["completed"] is True
    assert summary["written"] == unique
    assert (summary["waiting_in_dlq"], summary["in_flight"], summary["lost"]) == (0, 0, 0)
    # Measured at the server: one write per key, so the duplicates never reached the table
    # and every WCU charged is one unique item's.
    assert summary["written_twice"] == 0
    assert summary["duplicates_absorbed"] == DUPLICATES
    assert summary["written_wcu"] == ORDINARY + PARTNER + LARGE * LARGE_WCU
    assert summary["offloaded"] == LARGE + PARTNER
    assert summary["dead_lettered"] == summary["redriven"] == PARTNER
    assert LARGE_WCU <= summary["max_write_rate_wcu"] <= summary["provisioned_wcu"]
    assert summary["ordered"]["latest_versions_kept"] == summary["ordered"]["accounts"] == 10
    assert summary["ordered"]["dead_lettered"] == 1
    # The IAM check (enforce): every call of the shipped stacks is one AWS would allow.
    assert summary["iam_mode"] == "enforce"
    assert summary["calls_checked"] > summary["produced"]
    assert summary["denied"] == 0


@pytest.fixture(scope="module")
def local_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out.local")
    app, _ = build_app(cdk_context("local"), outdir=str(outdir))
    app.synth()
    return outdir


def _lines_until(process: subprocess.Popen[str], last: str, timeout_s: float = 300) -> list[str]:
    """stdout lines up to and including the first that starts with ``last``."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    lines: list[str] = []
    while not lines or not lines[-1].startswith(last):
        assert time.monotonic() < deadline, f"no {last!r} line: {lines}"
        line = process.stdout.readline()
        assert line, f"stdout ended before {last!r}: {lines}"
        lines.append(line.strip())
    return lines


@pytest.mark.parametrize("keep", [False, True], ids=["removed", "kept"])
def test_ctrl_c_stops_the_demo_in_one_line_and_removes_its_folder(
    local_assembly: Path, keep: bool
) -> None:
    command = [*DEMO, "--messages", "20", "--cdk-out", str(local_assembly)]
    process = subprocess.Popen(
        command + (["--keep", "--verbose"] if keep else []),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = _lines_until(process, "3. Drain")
    stacks = [
        line for line in lines if re.fullmatch(r"sqs-blueprint-local-\S+: \d+ resources", line)
    ]
    listed = [x for x in lines if x.startswith("sqs-blueprint-local-") and x not in stacks]
    # one line with a count; with --verbose, each feature on a line of its own
    [count] = [line for line in lines if "template features not applied locally" in line]
    assert (len(listed) == int(count.split()[0])) is keep
    [logs] = [line.split(": ", 1)[1] for line in lines if line.startswith("function logs: ")]
    workdir = Path(logs).parent
    endpoint = re.search(r"at (http://\S+)", next(x for x in lines if x.startswith("1. Deploy")))
    assert endpoint is not None
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)

    assert process.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    fate = "kept" if keep else "removed"
    assert err.splitlines()[-1] == (
        f"sqs-blueprint demo: interrupted; local cloud stopped, {fate} {workdir}"
    )
    assert workdir.exists() is keep
    with pytest.raises(OSError):  # nothing answers where the local cloud was
        urllib.request.urlopen(f"{endpoint.group(1)}/moto-api/", timeout=5)


def test_demo_tells_what_happens_while_it_happens(local_assembly: Path) -> None:
    command = [*DEMO, "--messages", "20", "--cdk-out", str(local_assembly)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    drain = lines.index(next(x for x in lines if x.startswith("3. Drain")))
    inspect = lines.index("4. Inspect the dead letters (nothing is consumed)")
    draining = lines[drain:inspect]
    assert not re.search(r"\[[#-]+\] \d+/\d+ written", done.stdout), "the bar is on stderr"
    # While producing, a bar counts the messages sent: the write buffer's 28 and the
    # ordered story's 31 (2 versions and a replay for each of 10 accounts, 1 malformed).
    sent = ORDINARY + DUPLICATES + LARGE + PARTNER + 10 * 3 + 1
    assert re.search(rf"\[#+\] {sent}/{sent} sent\n", done.stderr), done.stderr[-3000:]
    assert done.stderr.index(f"{sent}/{sent} sent") < done.stderr.index(" written")

    failed = [x for x in draining if x.startswith("   write buffer: ") and "failed" in x]
    # the reason in full once, then its name
    assert "BucketNotAllowed: payload pointer names bucket 'partner-payloads'" in failed[0]
    assert all(x.endswith(" (BucketNotAllowed)") for x in failed[1:]), failed
    rounds = [re.search(r"receive (\d+) of (\d+)\b", x) for x in failed]
    receives = {int(r.group(1)) for r in rounds if r}
    [most] = {int(r.group(2)) for r in rounds if r}
    assert receives == set(range(1, most + 1)), failed  # every receive until the DLQ
    moved = [x for x in draining if x.startswith("   write buffer: ") and " moved to " in x]
    assert moved and draining.index(moved[-1]) > draining.index(failed[0])
    assert moved[-1].endswith(f"-dlq after {most} receives (2 there)")

    ordered = [x for x in draining if x.startswith("   ordered: ")]
    assert any(
        re.fullmatch(
            r"   ordered: group acct-3 is held at version \d+ while this update retries; "
            r"the other groups go on \(\d+ of them written so far\)",
            x,
        )
        for x in ordered
    ), ordered
    assert any("failed, receive 1 of" in x and "'latest'" in x for x in ordered), ordered
    assert any(x.startswith("   ordered: 1 moved to ") for x in ordered), ordered

    redrive = lines.index("6. Redrive the dead letters to their source")
    assert "   write buffer: the 2 redriven records written" in lines[redrive:]
    [folder] = [x for x in lines if x.startswith("  temporary folder: removed ")]
    assert not Path(folder.rsplit(" ", 1)[1]).exists()
    # After the summary, two records followed: the redriven one to its write, the
    # ordered pipeline's malformed update to its DLQ.
    follow = lines[lines.index(folder) + 1 :]
    kinds = [x.split()[1] for x in follow if re.match(r"  \d\d:\d\d:\d\d\.\d{3}  ", x)]
    assert kinds.count("dead-lettered") == 2 and kinds.count("redriven") == 1, follow
    assert kinds[-1] == "dead-lettered" and "written" in kinds, follow
    assert any("metered at the server: 1 write(s), 1 WCU" in x for x in follow), follow


def test_demo_refuses_another_stages_assembly(tmp_path: Path) -> None:
    app, _ = build_app(cdk_context("dev"), outdir=str(tmp_path))
    app.synth()
    done = subprocess.run(
        [*DEMO, "--cdk-out", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip() == (
        f"sqs-blueprint demo: {tmp_path} holds another stage (stack "
        "'sqs-blueprint-dev-write-buffer', not 'sqs-blueprint-local-write-buffer'); the demo "
        "runs the 'local' stage, sized for the local cloud: run `make demo`, or pass --cdk-out "
        "with an empty folder and the demo synthesizes it there"
    )


def test_demo_needs_twenty_messages(tmp_path: Path) -> None:
    command = [*DEMO, "--messages", "5", "--cdk-out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "sqs-blueprint demo: --messages must be at least 20, got 5"
