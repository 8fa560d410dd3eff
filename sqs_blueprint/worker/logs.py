"""The worker's logging: one Powertools logger, JSON lines on stderr when run as a process."""

from __future__ import annotations

import logging
import os
import sys

from aws_lambda_powertools import Logger

# The ``service`` key of every log line: "worker", or Powertools' POWERTOOLS_SERVICE_NAME if set.
SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME") or "worker"
# A child of the SERVICE Logger that :func:`log_json` configures: until then (the worker used
# as a library) its records go to the application's own logging, extras attached.
log = Logger(service=SERVICE, child=True)


def log_json() -> None:
    """This process's logs as Powertools JSON lines on stderr, the worker's and every library's.

    The lines have the Lambda handlers' keys (``service``; per record ``correlation_id``,
    the message id, ``receive_count`` and ``outcome``), so one Logs Insights query finds
    a record in every consumer. The level is POWERTOOLS_LOG_LEVEL's (INFO by default).
    """
    service = Logger(service=SERVICE, stream=sys.stderr)
    # Other loggers (the write buffer's, botocore's) reach the same handler through the root.
    logging.basicConfig(level=service.log_level, handlers=[service.registered_handler], force=True)
    logging.getLogger(SERVICE).propagate = False  # the worker's lines are written once
    logging.getLogger("botocore").setLevel(max(service.log_level, logging.WARNING))
