#!/usr/bin/env python3
"""The sqs-blueprint CDK app: one stack per pipeline, settings from cdk.json."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Aspects, Environment, Stack, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from sqs_blueprint.errors import UsageError
from stacks.config import CONTEXT_KEY, OVERRIDES, StageConfig, load_stage
from stacks.data_protection import DataProtection
from stacks.ordered_stack import OrderedStack
from stacks.pipeline_stack import PipelineStack
from stacks.request_response_stack import RequestResponseStack
from stacks.workers_stack import WorkersStack
from stacks.write_buffer_stack import WriteBufferStack


def build_app(
    context: Mapping[str, Any] | None = None, *, outdir: str | None = None
) -> tuple[App, list[Stack]]:
    """Build the app and its stacks; cdk-nag's AwsSolutions pack checks them at synth.

    ``-c account=``, ``-c region=`` and ``-c alarms_to=`` override the stage's values.
    """
    app = App(context=dict(context) if context is not None else None, outdir=outdir)
    overrides = {key: app.node.try_get_context(key) for key in OVERRIDES}
    config = load_stage(
        app.node.try_get_context(CONTEXT_KEY),
        app.node.try_get_context("stage"),
        {key: value for key, value in overrides.items() if value is not None},
    )
    stacks = _stacks(app, config)
    Aspects.of(app).add(DataProtection(config.protect_data))
    Tags.of(app).add("project", "sqs-blueprint")
    Tags.of(app).add("stage", config.name)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stacks


def _stacks(app: App, config: StageConfig) -> list[Stack]:
    env = Environment(account=config.account, region=config.region)
    prefix = f"sqs-blueprint-{config.name}"
    return [
        WriteBufferStack(
            app,
            "WriteBuffer",
            config=config.write_buffer,
            tracing=config.tracing,
            stack_name=f"{prefix}-write-buffer",
            env=env,
            description="sqs-blueprint: standard queue buffering writes to DynamoDB",
        ),
        OrderedStack(
            app,
            "Ordered",
            config=config.ordered,
            tracing=config.tracing,
            stack_name=f"{prefix}-ordered",
            env=env,
            description="sqs-blueprint: FIFO queue with an ordered, versioned consumer",
        ),
        RequestResponseStack(
            app,
            "RequestResponse",
            config=config.request_response,
            tracing=config.tracing,
            stack_name=f"{prefix}-request-response",
            env=env,
            description="sqs-blueprint: request queue, responder and per-client response queues",
        ),
        WorkersStack(
            app,
            "Workers",
            config=config.workers,
            tracing=config.tracing,
            stack_name=f"{prefix}-workers",
            env=env,
            description="sqs-blueprint: EC2 workers that scale on backlog per instance",
        ),
        *(
            PipelineStack(
                app,
                name,
                name=name,
                config=pipeline,
                tracing=config.tracing,
                stack_name=f"{prefix}-{name}",
                env=env,
                description=f"sqs-blueprint: your pipeline {name} (lambdas/{name}/handler.py)",
            )
            for name, pipeline in config.pipelines.items()
        ),
    ]


def main() -> None:
    try:
        app, _ = build_app()
    except UsageError as error:  # a wrong cdk.json or -c value: say what to set, no traceback
        sys.exit(f"sqs-blueprint: {error}")
    app.synth()


if __name__ == "__main__":
    main()
