"""``python -m sqs_blueprint.cli``: the ``sqs-blueprint`` command."""

import sys

from sqs_blueprint.cli import main

sys.exit(main())
