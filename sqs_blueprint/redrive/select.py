"""Choosing which dead letters a client-side redrive moves: by id or by JMESPath."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection

from sqs_blueprint.redrive.letters import DeadLetter
from sqs_blueprint.redrive.queues import RedriveError, RedriveUsageError

Selector = Callable[[DeadLetter], bool]


def by_ids(ids: Collection[str]) -> Selector:
    """Choose the messages with these message ids."""
    wanted = frozenset(ids)
    return lambda letter: letter.message_id in wanted


def _reason(error: Exception) -> str:
    """jmespath's multi-line parse error as a short phrase with its position."""
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    text = first.removeprefix("Invalid jmespath expression: ").rstrip(":").strip()
    position = getattr(error, "lex_position", None)
    return f"{text} at character {position}" if position is not None else text


def where(expression: str) -> Selector:
    """Choose messages whose JSON body makes a JMESPath expression true.

    Bodies that are not JSON, nest too deeply, or whose S3 payload was not read
    never match.
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
        raise RedriveUsageError(
            f"--where {expression!r} is not a JMESPath expression ({_reason(error)}); "
            "see https://jmespath.org/ for the syntax"
        ) from None

    def select(letter: DeadLetter) -> bool:
        if letter.body is None:
            return False
        try:
            document = json.loads(letter.body)
            return bool(compiled.search(document))
        except (ValueError, RecursionError, JMESPathError):  # not JSON, too deep, or no match
            return False

    return select
