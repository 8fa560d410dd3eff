"""The blueprint end to end on the local cloud: ``sqs-blueprint demo``.

Deploys the synthesized stacks into an embedded moto server, drives a workload
through the write buffer and the ordered pipeline (ordinary messages,
duplicates, bodies large enough to go through S3, poison messages), tells what
happens while the real handlers drain it (records failing, receive counts rising
to the DLQ, the malformed update holding only its group), inspects the dead
letters, applies the fix, redrives them to their source, and proves that nothing
was lost and nothing written twice.

The poison of the write buffer is a partner whose payloads live in a bucket of
its own: the consumer trusts only the buckets named in ``PAYLOAD_BUCKET``, so
those records fail, reach the DLQ after maxReceiveCount, and land once the
operator adds the partner's bucket to the function's configuration.

- :mod:`.workload`: what is sent; :mod:`.stage`: the assembly, the deployed
  pipelines and the local timings; :mod:`.story`: the steps and their lines;
  :mod:`.watch`: the lines read from what the local cloud observes;
  :mod:`.report`: the closing count; :mod:`.run`: the command.
"""

from sqs_blueprint.local.demo.report import Summary, render
from sqs_blueprint.local.demo.run import main, run_demo
from sqs_blueprint.local.demo.workload import DemoError

__all__ = ["DemoError", "Summary", "main", "render", "run_demo"]
