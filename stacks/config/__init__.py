"""Settings from the ``sqs-blueprint`` block of cdk.json, as frozen dataclasses.

The block holds ``shared`` settings and one entry per stage under ``stages``;
a stage's settings are merged over the shared ones, key by key. ``-c stage=NAME``
picks the stage (``dev`` when not given). Unknown stages and unknown keys are
refused with the path of the key and the keys that are allowed, so a typo never
silently falls back to a default. No environment lookups, no AWS calls.

Every stage says where it deploys and where its alarms go (docs/deploying.md):

- ``account`` and ``region``: ``dev`` and ``local`` may leave them out and
  follow the CLI's credentials; every other stage must name both, and the
  shipped placeholder account ``111111111111`` is refused;
- ``alarms_to``: e-mail addresses (a list), an SNS topic ARN, or ``"none"``,
  which only ``dev`` and ``local`` may use; a pipeline may override it under
  ``<pipeline>.alarms.to``;
- ``protect_data`` (default on; off in ``dev`` and ``local``): see
  stacks/data_protection.py.

``-c account=...``, ``-c region=...`` and ``-c alarms_to=...`` (comma-separated
addresses, a topic ARN or ``none``) override the chosen stage's values, for a
pipeline that keeps them out of the repository.

``model`` holds the dataclasses, ``load`` the parsing and merging, ``checks``
the checks across settings; everything is importable from ``stacks.config``.
"""

from stacks.config.checks import CLI_STAGES, PLACEHOLDER_ACCOUNT, SHIPPED_PIPELINES
from stacks.config.load import CONTEXT_KEY, DEFAULT_STAGE, OVERRIDES, load_stage
from stacks.config.model import (
    NO_ALARMS,
    AlarmsConfig,
    ConfigError,
    OrderedConfig,
    OwnTableConfig,
    PipelineConfig,
    QueueConfig,
    RequestResponseConfig,
    StageConfig,
    TableConfig,
    WorkersConfig,
    WriteBufferConfig,
)

__all__ = [
    "CLI_STAGES",
    "CONTEXT_KEY",
    "DEFAULT_STAGE",
    "NO_ALARMS",
    "OVERRIDES",
    "PLACEHOLDER_ACCOUNT",
    "SHIPPED_PIPELINES",
    "AlarmsConfig",
    "ConfigError",
    "OrderedConfig",
    "OwnTableConfig",
    "PipelineConfig",
    "QueueConfig",
    "RequestResponseConfig",
    "StageConfig",
    "TableConfig",
    "WorkersConfig",
    "WriteBufferConfig",
    "load_stage",
]
