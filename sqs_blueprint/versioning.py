"""The rules of versioned mode, in one place for synth-time and run-time checks.

Versioned mode keeps, for each entity, the item with the highest version:

- the key names the entity and leaves the version out (``KEY_FIELDS`` /
  ``key_fields`` set, without the version field), or every version would be its
  own item;
- an item is written only when its version is greater than the stored one (or
  no item is stored, or the stored item has no version field: it was written
  before versioning or under another version field, so it is older than any
  versioned update); an older or EQUAL stored version is an acknowledged no-op,
  inside a batch and across batches alike, so the first item seen with a version
  wins; a stored version that is not a number fails the update with the reason.

This module imports nothing beyond the standard library, so the CDK stacks can
use it at synth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

VERSIONED_KEY_RULE = (
    "versioned mode keeps the newest version of each entity, so the key must name "
    "the entity and leave the version out (the whole body would make every version "
    "its own item)"
)


def versioned_key_ok(key_fields: Sequence[str] | None, version_field: str | None) -> bool:
    """True unless versioned mode is asked for with a key that cannot name the entity."""
    return not version_field or (bool(key_fields) and version_field not in (key_fields or ()))


# The conditional write of versioned mode (docs/aws-facts.md#dynamodb): written when no
# item is stored, when the stored item has no version (it predates versioning, or
# carries another version field) or when the stored version is a lower number. A stored
# version of another type fails the condition (its type is tested before the
# comparison); :func:`stored_version_problem` then says so.
NEWER_CONDITION = (
    "attribute_not_exists(#k) OR attribute_not_exists(#v) "
    "OR (attribute_type(#v, :number) AND #v < :v)"
)

_TYPE_NAMES = {
    "S": "a string",
    "B": "a binary",
    "BOOL": "a boolean",
    "NULL": "a null",
    "M": "a map",
    "L": "a list",
    "SS": "a string set",
    "NS": "a number set",
    "BS": "a binary set",
}


def stored_version_problem(stored: Any, new: str, version_field: str) -> str | None:
    """Why a conditional write of version ``new`` that DynamoDB refused may not count as
    a no-op, given the ``stored`` item it returned (DynamoDB JSON, None if it returned
    none); None when the stored version is a number at least ``new``: only then was
    the write not needed."""
    if not isinstance(stored, Mapping):
        return (
            "DynamoDB refused the conditional write without returning the stored item, "
            f"so whether it holds a version of at least {new} is unknown; not written"
        )
    value = stored.get(version_field)
    if isinstance(value, Mapping) and set(value) == {"N"}:
        if Decimal(value["N"]) >= Decimal(new):
            return None
        return f"DynamoDB refused version {new} over the lower stored {value['N']}; not written"
    kind = next(iter(value), "") if isinstance(value, Mapping) else ""
    return (
        f"the stored item's version field {version_field!r} holds "
        f"{_TYPE_NAMES.get(kind, 'no number')} ({value!r}), so it cannot be compared with "
        f"version {new}; not written. Fix: store a number in {version_field!r} of that item, "
        "or delete the item"
    )
