"""The import paths users rely on stay importable, whatever moves inside the package."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "sqs_blueprint.records": ["Record"],
    "sqs_blueprint.upsert": ["Upserter", "item_key", "parse_body", "write_records"],
    "sqs_blueprint.write_buffer": ["WriteBufferSettings"],
    "sqs_blueprint.worker": ["Worker"],
    "sqs_blueprint.producer": ["Producer", "Message"],
    "sqs_blueprint.payload": ["PayloadStore"],
    "sqs_blueprint.redrive": ["inspect", "redrive", "RedriveError"],
    "sqs_blueprint.rpc": [
        "RpcClient",
        "Responder",
        "RpcTimeout",
        "RpcError",
        "ReplyToRefused",
        "RequestError",
    ],
}


@pytest.mark.parametrize(("module", "names"), sorted(PUBLIC.items()))
def test_public_names_are_importable(module: str, names: list[str]) -> None:
    loaded = importlib.import_module(module)
    assert [name for name in names if not hasattr(loaded, name)] == []


def test_errors_belong_to_one_family() -> None:
    from sqs_blueprint.errors import SqsBlueprintError, UsageError
    from sqs_blueprint.payload import PayloadError
    from sqs_blueprint.redrive import RedriveError
    from sqs_blueprint.rpc import ReplyToRefused, RequestError, RpcError, RpcTimeout
    from sqs_blueprint.upsert import ItemError
    from sqs_blueprint.write_buffer import SettingsError

    for error in (PayloadError, RedriveError, ReplyToRefused, RequestError, RpcError, RpcTimeout):
        assert issubclass(error, SqsBlueprintError), error
    assert issubclass(ItemError, SqsBlueprintError)
    assert issubclass(SettingsError, UsageError) and issubclass(UsageError, ValueError)


def test_the_constructs_old_import_paths_work_for_one_release() -> None:
    import sys

    import sqs_blueprint_cdk
    import sqs_blueprint_cdk.workers.validation

    sys.modules.pop("stacks.patterns", None)
    with pytest.warns(DeprecationWarning, match="stacks.patterns is now sqs_blueprint_cdk"):
        patterns = importlib.import_module("stacks.patterns")
    for name in sqs_blueprint_cdk.__all__:
        assert getattr(patterns, name) is getattr(sqs_blueprint_cdk, name)
    from stacks.patterns.workers.validation import BUILTIN_WRITE_BUFFER  # type: ignore[import-not-found]

    assert BUILTIN_WRITE_BUFFER is sqs_blueprint_cdk.workers.validation.BUILTIN_WRITE_BUFFER
    assert importlib.import_module("stacks.patterns.bundling") is importlib.import_module(
        "sqs_blueprint_cdk.bundling"
    )
