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
