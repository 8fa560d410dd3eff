"""EC2 workers that long-poll a QueueWithDlq and scale on backlog per instance.

An Auto Scaling group runs ``sqs-blueprint worker`` (the same record core as the
Lambda consumers) as a systemd service on Amazon Linux 2023. The design:

- Launch template: the AMI's architecture follows the instance type (Graviton
  by default), IMDSv2 only with a hop limit of 1, an encrypted gp3 root volume,
  no key pair and a security group without inbound rules (access goes through
  SSM Session Manager); outbound is HTTPS only.
- The runtime library arrives as a wheel built at synth (see ``stacks/patterns/wheel.py``),
  installed into a Python 3.11 venv; boto3 comes from PyPI, so the instances
  need a route to the internet (WorkersStack gives them one NAT gateway).
- The role can consume the one queue, read the payload bucket, write the
  table (BatchWriteItem, or PutItem when versioned), read the one wheel object,
  and complete its own scale-in lifecycle action. Nothing else but SSM.
- Scaling: target tracking on ``visible / IF(inservice > 0, inservice, 1)``,
  the backlog per in-service instance, towards
  ``acceptable_latency / seconds_per_message`` messages (FACTS §8: the L2
  refuses metric math, so the CloudFormation-level policy is used).

Scale-in, and why a lifecycle hook rather than the systemd stop alone: when an
instance is terminated, EC2 shuts the OS down and systemd sends the worker
SIGTERM, but EC2 does not promise how long it waits before it powers the
instance off, so a drain longer than that could be cut short. A termination
lifecycle hook holds the instance in ``Terminating:Wait`` for up to its
heartbeat timeout instead. A small service on the instance watches the
instance's target lifecycle state in the instance metadata; when it reads
``Terminated`` it stops the worker (SIGTERM: no more receives, unstarted
messages given back at once, running ones finish within the drain deadline)
and then completes the lifecycle action, so the instance goes as soon as it
has drained. If the watcher fails, the hook times out and the termination
continues; the systemd stop is then the last line of defence. Either way a
message that is not finished returns to the queue when its visibility ends,
which is why the queue's visibility must cover the maximum processing time.

Layout: ``construct`` builds the resources, ``validation`` checks every setting
first, ``scaling`` holds the backlog arithmetic and the scaling policy, and
``user_data`` renders the boot script and the systemd units kept as real files
under ``assets/``.
"""

from stacks.patterns.workers.construct import Ec2QueueWorkers
from stacks.patterns.workers.scaling import backlog_target
from stacks.patterns.workers.user_data import INSTALL_DIR, LIFECYCLE_HOOK_NAME, SERVICE, WATCHER
from stacks.patterns.workers.validation import BUILTIN_WRITE_BUFFER

__all__ = [
    "BUILTIN_WRITE_BUFFER",
    "INSTALL_DIR",
    "LIFECYCLE_HOOK_NAME",
    "SERVICE",
    "WATCHER",
    "Ec2QueueWorkers",
    "backlog_target",
]
