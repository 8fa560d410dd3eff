"""The table every write-buffer test writes to: a string partition key ``pk``."""

from __future__ import annotations

from typing import Any


def create_table(dynamodb: Any, name: str, *, wcu: int | None = None) -> None:
    """Create it provisioned at ``wcu`` (1 RCU), or on demand when ``wcu`` is None."""
    billing: dict[str, Any] = (
        {"BillingMode": "PAY_PER_REQUEST"}
        if wcu is None
        else {"ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": wcu}}
    )
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        **billing,
    )
