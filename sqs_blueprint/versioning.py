"""The rules of versioned mode, in one place for synth-time and run-time checks.

Versioned mode keeps, for each entity, the item with the highest version:

- the key names the entity and leaves the version out (``KEY_FIELDS`` /
  ``key_fields`` set, without the version field), or every version would be its
  own item;
- an item is written only when its version is greater than the stored one (or
  none is stored); an older or EQUAL version is an acknowledged no-op, inside a
  batch and across batches alike, so the first item seen with a version wins.

This module imports nothing beyond the standard library, so the CDK stacks can
use it at synth.
"""

from __future__ import annotations

from collections.abc import Sequence

VERSIONED_KEY_RULE = (
    "versioned mode keeps the newest version of each entity, so the key must name "
    "the entity and leave the version out (the whole body would make every version "
    "its own item)"
)


def versioned_key_ok(key_fields: Sequence[str] | None, version_field: str | None) -> bool:
    """True unless versioned mode is asked for with a key that cannot name the entity."""
    return not version_field or (bool(key_fields) and version_field not in (key_fields or ()))
