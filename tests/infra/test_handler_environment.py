"""The environment each construct sets is what its bundled handler reads back.

Every function of the dev app is loaded from its synthesized asset with the
environment of its template (references to other resources become a placeholder
name), and its settings are compared with the ones the construct built.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sqs_blueprint.rpc import ResponderSettings
from sqs_blueprint.write_buffer import WriteBufferSettings

RESOLVED = "resolved-at-deploy"


def function_of(synthesized: Any, stack: str) -> dict[str, Any]:
    [function] = [
        r["Properties"]
        for r in synthesized.raw[stack]["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    return function


def load_asset_handler(synthesized: Any, function: dict[str, Any]) -> ModuleType:
    asset: Path = synthesized.outdir / f"asset.{function['Code']['S3Key'].removesuffix('.zip')}"
    spec = importlib.util.spec_from_file_location(
        f"asset_handler_{uuid.uuid4().hex}", asset / "handler.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def set_environment(monkeypatch: pytest.MonkeyPatch, function: dict[str, Any]) -> None:
    for name, value in function["Environment"]["Variables"].items():
        monkeypatch.setenv(name, value if isinstance(value, str) else RESOLVED)


@pytest.mark.parametrize("stack", ["WriteBuffer", "Ordered"])
def test_a_write_buffer_handler_reads_the_settings_its_construct_set(
    synthesized: Any, monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    function = function_of(synthesized, stack)
    set_environment(monkeypatch, function)
    handler = load_asset_handler(synthesized, function)

    built: WriteBufferSettings = synthesized.stacks[stack].buffer.settings
    expected = dataclasses.replace(
        built,
        table_name=RESOLVED,
        payload_buckets=(RESOLVED,) if built.payload_buckets else (),
        wcu_per_second=float(f"{built.wcu_per_second:g}"),
    )
    assert handler.buffer().settings == expected
    assert (expected.version_field is not None) == (stack == "Ordered")


def test_the_responder_handler_reads_the_prefix_its_construct_set(
    synthesized: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    function = function_of(synthesized, "RequestResponse")
    set_environment(monkeypatch, function)
    handler = load_asset_handler(synthesized, function)

    prefix = synthesized.stacks["RequestResponse"].service.response_queue_prefix
    assert handler.responder().response_queue_prefix == prefix
    assert (
        ResponderSettings.from_env(function["Environment"]["Variables"]).response_queue_prefix
        == prefix
    )
