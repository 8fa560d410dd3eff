"""Choosing which dead letters a client-side redrive moves: by id or by JMESPath."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection

from sqs_blueprint.redrive.letters import DeadLetter
from sqs_blueprint.redrive.queues import RedriveError

Selector = Callable[[DeadLetter], bool]


def by_ids(ids: Collection[str]) -> Selector:
    """Choose the messages with these message ids."""
    wanted = frozenset(ids)
    return lambda letter: letter.message_id in wanted


def where(expression: str) -> Selector:
    """Choose messages whose JSON body makes a JMESPath expression true.

    Bodies that are not JSON (or whose S3 payload cannot be read) never match.
    """
    try:
        import jmespath
        from jmespath.exceptions import JMESPathError
    except ImportError as error:
        raise RedriveError(
            "--where needs the jmespath package: pip install 'sqs-blueprint[redrive]'"
        ) from error
    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as error:
        raise RedriveError(
            f"--where {expression!r} is not a JMESPath expression: {error}"
        ) from None

    def select(letter: DeadLetter) -> bool:
        if letter.body is None:
            return False
        try:
            document = json.loads(letter.body)
        except ValueError:
            return False
        try:
            return bool(compiled.search(document))
        except JMESPathError:
            return False

    return select
