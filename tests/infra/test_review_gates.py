"""The review gates: cdk-nag at synth and cfn-lint over every template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = [
    str(Path(sys.executable).with_name("cfn-lint")),
    "--config-file",
    str(ROOT / ".cfnlintrc.yaml"),
]


def test_cdk_nag_is_live_and_fails_synth_on_a_finding(tmp_path: Path) -> None:
    """The gate can fail: an unencrypted queue without a DLQ is refused."""
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Careless")
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="AwsSolutions-SQS"):
        app.synth()


@pytest.mark.parametrize("fixture", ["synthesized", "synthesized_prod"])
def test_every_template_is_cfn_lint_clean(fixture: str, request: pytest.FixtureRequest) -> None:
    synthesized: Any = request.getfixturevalue(fixture)
    templates = sorted(str(p) for p in synthesized.outdir.glob("*.template.json"))
    assert len(templates) == len(synthesized.stacks)
    result = subprocess.run(
        [*CFN_LINT, "--format", "parseable", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit 0: no errors, no warnings (2 = error, 4 = warning, 8 = informational).
    assert result.returncode in (0, 8), result.stdout + result.stderr


def test_cfn_lint_gate_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.template.json"
    bad.write_text('{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"Nope": 1}}}}')
    result = subprocess.run([*CFN_LINT, str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode & 2, result.stdout


def test_every_checkov_skip_carries_its_reason() -> None:
    """make lint runs checkov with .checkov.yaml; a skipped check needs its why above it."""
    lines = (ROOT / ".checkov.yaml").read_text().splitlines()
    start = lines.index("skip-check:")
    skips = [i for i, line in enumerate(lines) if line.strip().startswith("- CKV_")]
    assert skips and all(i > start for i in skips)
    for i in skips:
        assert lines[i - 1].strip().startswith("#"), f"no reason above {lines[i].strip()}"
