"""The workers' boot script, systemd units and drain watcher, linted and run for real.

The user data is taken from the synthesized template with its references filled
in, then executed by bash in a temporary root (a user and mount namespace:
``unshare`` plus ``chroot``, the host's /usr bound read-only) where ``dnf``,
``systemctl``, ``cfn-signal``, ``aws``, ``python3.11`` and the venv's ``pip``
are fake scripts that record their arguments.
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SHELLCHECK = Path(sys.executable).parent / "shellcheck"
REGION = "eu-west-1"
SERVICES = ("sqs-blueprint-worker.service", "sqs-blueprint-drain-on-scale-in.service")
WATCHER = "/usr/local/bin/sqs-blueprint-drain-on-scale-in"


def resolve(value: Any) -> str:
    """A CloudFormation string with made-up but concrete values for its references."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(resolve(p) for p in parts)
    if "Ref" in value:
        return REGION if value["Ref"] == "AWS::Region" else f"ref-{value['Ref'].lower()}"
    if "Fn::Sub" in value:
        text = str(value["Fn::Sub"])
        return text.replace("${AWS::AccountId}", "111111111111").replace("${AWS::Region}", REGION)
    raise AssertionError(f"unexpected intrinsic {value}")


def heredoc(script: str, path: str) -> str:
    match = re.search(rf"^cat > {re.escape(path)} <<'EOF'\n(.*?)\nEOF$", script, re.S | re.M)
    assert match, f"{path} is not written by the user data"
    return match.group(1) + "\n"


@dataclass
class Synth:
    script: str
    stack_name: str
    group_id: str
    bundle: Path


@pytest.fixture(scope="module")
def synth(synthesized: Any) -> Synth:
    resources = synthesized.raw["Workers"]["Resources"]
    (template,) = [r for r in resources.values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
    script = resolve(template["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"])
    (group_id,) = [k for k, r in resources.items() if r["Type"].endswith("AutoScalingGroup")]
    key = re.search(r"/([0-9a-f]{64})\.zip'", script)
    assert key
    return Synth(
        script=script,
        stack_name=synthesized.stacks["Workers"].stack_name,
        group_id=group_id,
        bundle=synthesized.outdir / f"asset.{key.group(1)}",
    )


# ------------------------------------------------------------------ lint


def lint(path: Path) -> None:
    syntax = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    checked = subprocess.run(
        [str(SHELLCHECK), "--shell=bash", "--severity=style", str(path)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout


def test_user_data_passes_bash_n_and_shellcheck(synth: Synth, tmp_path: Path) -> None:
    path = tmp_path / "user-data.sh"
    path.write_text(synth.script)
    lint(path)


def test_drain_watcher_passes_bash_n_and_shellcheck(synth: Synth, tmp_path: Path) -> None:
    path = tmp_path / "watcher"
    path.write_text(heredoc(synth.script, WATCHER))
    lint(path)


def test_shellcheck_finds_a_planted_mistake(tmp_path: Path) -> None:
    path = tmp_path / "broken.sh"
    path.write_text("#!/bin/bash\nrm -rf $target/opt\n")
    with pytest.raises(AssertionError, match="SC2086"):
        lint(path)


def test_units_have_the_keys_the_worker_relies_on(synth: Synth) -> None:
    required = {
        "sqs-blueprint-worker.service": {
            "Service": {"ExecStart", "User", "EnvironmentFile", "Restart", "KillSignal",
                        "KillMode", "TimeoutStopSec", "StandardOutput", "StandardError"},
            "Install": {"WantedBy"},
        },
        "sqs-blueprint-drain-on-scale-in.service": {
            "Service": {"ExecStart", "Environment", "Restart"},
            "Install": {"WantedBy"},
        },
    }  # fmt: skip
    for name, sections in required.items():
        unit = configparser.ConfigParser(interpolation=None, strict=True)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read_string(heredoc(synth.script, f"/etc/systemd/system/{name}"))
        assert set(unit.sections()) == {"Unit", "Service", "Install"}
        for section, keys in sections.items():
            assert keys <= set(unit[section]), (name, section)
        assert unit["Unit"]["After"] == "network-online.target"


# ------------------------------------------------------------------ the boot, run

STUB = """#!/bin/sh
printf '%s\\n' "{name} $*" >> /stubs/calls.log
"""
STUBS = {
    "dnf": "",
    "useradd": "",
    "sleep": "",
    "cfn-signal": "",
    "amazon-cloudwatch-agent-ctl": "",
    "aws": '[ "$1 $2" = "s3 cp" ] && cp /fixtures/bundle.zip "$4"\nexit 0\n',
    # is-active answers with the next exit status in /stubs/is-active (the last one repeats).
    "systemctl": (
        '[ "$1" = is-active ] || exit 0\n'
        "status=$(head -n 1 /stubs/is-active)\n"
        '[ "$(wc -l < /stubs/is-active)" -gt 1 ] && sed -i 1d /stubs/is-active\n'
        'exit "$status"\n'
    ),
    "python3.11": (
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '  mkdir -p "$3/bin"\n'
        '  cp /stubs/venv-pip "$3/bin/pip"\n'
        '  cp /stubs/venv-pip "$3/bin/sqs-blueprint"\n'
        "  exit 0\n"
        "fi\n"
        'shift 2\nexec {python} -m zipfile "$@"\n'
    ),
    "venv-pip": 'exit "$(cat /stubs/pip-exit)"\n',
}


@dataclass
class Boot:
    returncode: int
    stderr: str
    calls: list[str]
    root: Path

    def called(self, prefix: str) -> list[int]:
        return [i for i, call in enumerate(self.calls) if call.startswith(prefix)]


def _binds(root: Path) -> list[tuple[str, Path]]:
    """The host's /usr, and this Python's prefix (the stub unzips with it)."""
    binds = [("/usr", root / "usr")]
    python_prefix = Path(sys.base_prefix)
    if not python_prefix.is_relative_to("/usr"):
        binds.append((str(python_prefix), root / python_prefix.relative_to("/")))
    return binds


def _prepare(root: Path) -> None:
    for _, target in _binds(root):
        target.mkdir(parents=True, exist_ok=True)
    for name in ("bin", "lib", "lib64", "sbin"):
        host = Path("/") / name
        if host.is_symlink():
            (root / name).symlink_to(host.readlink())
    (root / "dev").mkdir()
    (root / "dev" / "null").touch()
    (root / "local" / "bin").mkdir(parents=True)


def _mounts(root: Path) -> str:
    """Shell commands that mount the system into the temporary root, read-only.

    /usr/local is the root's own folder: the boot script writes the watcher there.
    """
    commands = [f"mount --rbind {s} {t} && mount -o remount,bind,ro {t}" for s, t in _binds(root)]
    commands += [
        f"mount --bind {root / 'local'} {root / 'usr' / 'local'}",
        f"mount --bind /dev/null {root / 'dev' / 'null'}",
    ]
    return " && ".join(commands)


def make_root(tmp_path: Path, synth: Synth, is_active: list[int], pip_exit: int) -> Path:
    root = tmp_path / "root"
    for folder in ("tmp", "run", "etc/systemd/system", "var/log", "stubs", "fixtures"):
        (root / folder).mkdir(parents=True)
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", synth.bundle)
    shutil.copyfile(archive, root / "fixtures" / "bundle.zip")
    real_python = Path(sys.executable).resolve()
    for name, body in STUBS.items():
        path = root / "stubs" / name
        record = STUB.format(name="pip" if name == "venv-pip" else name)
        path.write_text(record + body.replace("{python}", str(real_python)))
        path.chmod(0o755)
    (root / "stubs" / "is-active").write_text("".join(f"{s}\n" for s in is_active))
    (root / "stubs" / "pip-exit").write_text(f"{pip_exit}\n")
    (root / "user-data.sh").write_text(synth.script)
    _prepare(root)
    return root


def in_root(root: Path, command: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["unshare", "--map-root-user", "--mount", "sh", "-c", f"{_mounts(root)} && {command}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.stderr.startswith(("unshare:", "mount:")):
        pytest.fail(
            f"cannot make the temporary root: {result.stderr.strip()}. These tests need "
            "unprivileged user namespaces (util-linux unshare --map-root-user --mount); "
            "enable them (e.g. sysctl kernel.unprivileged_userns_clone=1) or run as root"
        )
    return result


def boot(tmp_path: Path, synth: Synth, *, is_active: list[int], pip_exit: int = 0) -> Boot:
    root = make_root(tmp_path, synth, is_active, pip_exit)
    result = in_root(
        root,
        f"exec chroot {root} /usr/bin/env -i PATH=/stubs:/usr/bin:/bin /bin/bash /user-data.sh",
    )
    log = root / "stubs" / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    return Boot(result.returncode, result.stderr, calls, root)


def signal_call(synth: Synth, exit_code: int) -> str:
    return (
        f"cfn-signal --stack {synth.stack_name} --resource {synth.group_id} "
        f"--region {REGION} --exit-code {exit_code}"
    )


def test_boot_installs_offline_starts_the_service_then_signals_success(
    synth: Synth, tmp_path: Path
) -> None:
    run = boot(tmp_path, synth, is_active=[0])
    assert run.returncode == 0, run.stderr
    (dnf,) = run.called("dnf ")
    assert "aws-cfn-bootstrap" in run.calls[dnf] and "amazon-cloudwatch-agent" in run.calls[dnf]
    (fetch,) = run.called("aws s3 cp ")
    assert re.fullmatch(
        r"aws s3 cp s3://cdk-\w+-assets-111111111111-eu-west-1/[0-9a-f]{64}\.zip "
        r"/opt/sqs-blueprint/bundle\.zip",
        run.calls[fetch],
    )
    # Installed offline, from the wheels the asset carried.
    pips = [run.calls[i] for i in run.called("pip ")]
    assert pips == [
        "pip install --no-index --find-links /opt/sqs-blueprint/wheels --no-cache-dir "
        "--disable-pip-version-check sqs-blueprint"
    ]
    wheels = sorted(p.name for p in (run.root / "opt/sqs-blueprint/wheels").iterdir())
    assert wheels == sorted(p.name for p in synth.bundle.iterdir())
    assert "sqs_blueprint-0.1.0-py3-none-any.whl" in wheels
    # Enabled and started, then checked until active three times, then signalled.
    (enable,) = run.called("systemctl enable --now ")
    assert run.calls[enable] == "systemctl enable --now " + " ".join(SERVICES)
    checks = run.called("systemctl is-active ")
    assert len(checks) == 3 and enable < checks[0]
    assert run.called("cfn-signal") == [len(run.calls) - 1] and checks[-1] < len(run.calls) - 1
    assert run.calls[-1] == signal_call(synth, 0)
    # The files it wrote.
    etc = run.root / "etc"
    unit = (etc / "systemd/system/sqs-blueprint-worker.service").read_text()
    assert unit == heredoc(synth.script, "/etc/systemd/system/sqs-blueprint-worker.service")
    assert (run.root / "local/bin/sqs-blueprint-drain-on-scale-in").stat().st_mode & 0o777 == 0o755
    assert (etc / "sqs-blueprint/worker.env").stat().st_mode & 0o777 == 0o644
    agent = json.loads((etc / "sqs-blueprint/cloudwatch-agent.json").read_text())
    assert agent["logs"]["logs_collected"]["files"]["collect_list"][0]["log_group_name"].startswith(
        "ref-workerslogs"
    )
    assert run.called("amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:")


def test_boot_signals_failure_when_the_service_does_not_start(synth: Synth, tmp_path: Path) -> None:
    run = boot(tmp_path, synth, is_active=[3])
    assert run.returncode == 3
    assert "sqs-blueprint-worker.service did not stay active" in run.stderr
    assert len(run.called("systemctl is-active ")) == 24
    assert [run.calls[i] for i in run.called("cfn-signal")] == [signal_call(synth, 3)]


def test_a_worker_that_falls_over_after_starting_is_not_counted_as_started(
    synth: Synth, tmp_path: Path
) -> None:
    run = boot(tmp_path, synth, is_active=[0, 0, 3, 0, 0, 0])
    assert run.returncode == 0, run.stderr
    assert len(run.called("systemctl is-active ")) == 6
    assert [run.calls[i] for i in run.called("cfn-signal")] == [signal_call(synth, 0)]


def test_a_failed_install_signals_failure_and_starts_nothing(synth: Synth, tmp_path: Path) -> None:
    run = boot(tmp_path, synth, is_active=[0], pip_exit=1)
    assert run.returncode == 1
    assert not run.called("systemctl")
    assert [run.calls[i] for i in run.called("cfn-signal")] == [signal_call(synth, 1)]


def test_units_as_written_pass_systemd_analyze_verify(synth: Synth, tmp_path: Path) -> None:
    run = boot(tmp_path, synth, is_active=[0])
    assert run.returncode == 0, run.stderr
    units = " ".join(f"/etc/systemd/system/{s}" for s in SERVICES)
    verify = in_root(
        run.root, f"exec chroot {run.root} /usr/bin/systemd-analyze verify --man=no {units}"
    )
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")


# ------------------------------------------------------------------ the drain watcher, run

WATCHER_STUBS = {
    "sleep": "",
    # The instance metadata: a token, the instance id, and the target lifecycle state
    # read from /stubs/states one line per call (the last one repeats).
    "curl": (
        'case "$*" in\n'
        "  *api/token*) echo token ;;\n"
        "  *instance-id*) echo i-0123456789 ;;\n"
        "  *target-lifecycle-state*)\n"
        '    head -n 1 "$STUBS/states"\n'
        '    [ "$(wc -l < "$STUBS/states")" -gt 1 ] && sed -i 1d "$STUBS/states" ;;\n'
        "esac\nexit 0\n"
    ),
    "aws": ('[ "$2" = describe-auto-scaling-instances ] && echo workers-group\nexit 0\n'),
    "systemctl": "",
}


def test_watcher_drains_then_completes_the_lifecycle_action(synth: Synth, tmp_path: Path) -> None:
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name, body in WATCHER_STUBS.items():
        path = stubs / name
        path.write_text(STUB.replace("/stubs/", "$STUBS/").format(name=name) + body)
        path.chmod(0o755)
    (stubs / "states").write_text("InService\nInService\nTerminated\n")
    watcher = tmp_path / "watcher"
    watcher.write_text(heredoc(synth.script, WATCHER))
    result = subprocess.run(
        ["bash", str(watcher)],
        env={"PATH": f"{stubs}:/usr/bin:/bin", "STUBS": str(stubs)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    calls = [c for c in (stubs / "calls.log").read_text().splitlines() if not c.startswith("curl")]
    assert calls == [
        "sleep 5",
        "sleep 5",
        "systemctl stop sqs-blueprint-worker.service",
        "aws autoscaling describe-auto-scaling-instances --instance-ids i-0123456789 "
        "--query AutoScalingInstances[0].AutoScalingGroupName --output text",
        "aws autoscaling complete-lifecycle-action --lifecycle-hook-name sqs-blueprint-drain "
        "--auto-scaling-group-name workers-group --instance-id i-0123456789 "
        "--lifecycle-action-result CONTINUE",
    ]
