"""Reusable constructs. Import them from here: ``from stacks.patterns import QueueWithDlq``."""

from stacks.patterns._validation import InvalidPropsError
from stacks.patterns.queue_pair import QueueWithDlq

__all__ = ["InvalidPropsError", "QueueWithDlq"]
