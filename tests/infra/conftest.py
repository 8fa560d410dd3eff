"""Synthesize the real app once per test session, with cdk-nag on."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from app import build_app

ROOT = Path(__file__).resolve().parents[2]
# What a user sets for prod (docs/deploying.md), given as -c overrides: the shipped
# cdk.json holds placeholders that synth refuses.
PROD_TARGET = {"account": "123456789012", "alarms_to": "oncall@yourcompany.com"}


def cdk_context(stage: str = "dev", **overrides: str) -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, "stage": stage, **overrides}


@dataclass
class Synthesized:
    outdir: Path
    stacks: dict[str, Stack]
    templates: dict[str, Template]
    raw: dict[str, dict[str, Any]]


def synthesize(stage: str, outdir: Path, **overrides: str) -> Synthesized:
    app, stacks = build_app(cdk_context(stage, **overrides), outdir=str(outdir))
    assembly = app.synth()
    raw = {s.node.id: assembly.get_stack_artifact(s.artifact_id).template for s in stacks}
    return Synthesized(
        outdir=outdir,
        stacks={s.node.id: s for s in stacks},
        templates={name: Template.from_json(t) for name, t in raw.items()},
        raw=raw,
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The dev stage, synthesized once: every infra test reads from it."""
    return synthesize("dev", tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synthesized_prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The prod stage with the account and alarm address a user sets."""
    return synthesize("prod", tmp_path_factory.mktemp("cdk.out.prod"), **PROD_TARGET)


@pytest.fixture
def new_stack() -> Iterator[Callable[[], Stack]]:
    """A factory of empty stacks in an app without bundling, for construct tests."""

    def make() -> Stack:
        app = App(context={"aws:cdk:bundling-stacks": []})
        return Stack(app, "Test")

    yield make
