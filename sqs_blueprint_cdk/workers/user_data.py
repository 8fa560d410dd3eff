"""The boot script of a worker instance, rendered from the files under ``assets/``.

``assets/user-data.sh`` is the script EC2 runs at first boot; it writes the
systemd units, the drain watcher (``assets/sqs-blueprint-*``), the CloudWatch
agent's configuration and the log rotation verbatim, as quoted heredocs.
Values known only at synth or deploy are ``@name@`` placeholders, filled in by
:func:`render`; every placeholder must be given and every value used, so a
file and its caller cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
LIFECYCLE_HOOK_NAME = "sqs-blueprint-drain"
SERVICE = "sqs-blueprint-worker"
WATCHER = "sqs-blueprint-drain-on-scale-in"
UNHEALTHY = "sqs-blueprint-unhealthy"
_PLACEHOLDER = re.compile(r"@([a-z_]+)@")


def render(name: str, **values: object) -> str:
    """``assets/<name>`` with each ``@key@`` replaced by ``values[key]``, no final newline."""
    text = (ASSETS / name).read_text()
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(values):
        raise ValueError(
            f"assets/{name} has placeholders {sorted(wanted)} but was given {sorted(values)}; "
            "pass exactly the placeholders the file uses"
        )
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text).removesuffix("\n")


def worker_unit(
    *,
    queue_url: str,
    handler: str,
    concurrency: int,
    max_messages: int,
    wait_s: int,
    drain_s: int,
    stop_timeout_s: int,
) -> str:
    """The worker's systemd unit: SIGTERM starts the drain, SIGKILL after the stop timeout."""
    return render(
        f"{SERVICE}.service",
        queue_url=queue_url,
        handler=handler,
        concurrency=concurrency,
        max_messages=max_messages,
        wait_s=wait_s,
        drain_s=drain_s,
        stop_timeout_s=stop_timeout_s,
    )


def boot_script(
    *,
    bundle_url: str,
    environment: Mapping[str, str],
    worker_unit: str,
    stack: str,
    resource: str,
    region: str,
    log_group: str,
) -> str:
    """The user data after its ``#!/bin/bash`` line.

    ``stack`` and ``resource`` name the Auto Scaling group that ``cfn-signal``
    reports to; ``log_group`` receives the worker's output and the boot log.
    """
    return render(
        "user-data.sh",
        stack=stack,
        resource=resource,
        region=region,
        bundle_url=bundle_url,
        agent_config=render("cloudwatch-agent.json", log_group=log_group),
        logrotate=render("logrotate.conf"),
        environment="\n".join(f"{k}={v}" for k, v in sorted(environment.items())),
        worker_unit=worker_unit,
        watcher_script=render(WATCHER, lifecycle_hook=LIFECYCLE_HOOK_NAME),
        watcher_unit=render(f"{WATCHER}.service", region=region),
        unhealthy_script=render(UNHEALTHY, region=region),
        unhealthy_unit=render(f"{UNHEALTHY}.service"),
    )
