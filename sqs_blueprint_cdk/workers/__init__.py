"""EC2 workers that long-poll a QueueWithDlq and scale on backlog per instance.

An Auto Scaling group runs ``sqs-blueprint worker`` (the same record core as the
Lambda consumers) as a systemd service on Amazon Linux 2023. The design:

- Launch template: the AMI's architecture follows the instance type (Graviton
  by default), IMDSv2 only with a hop limit of 1, an encrypted gp3 root volume,
  no key pair and a security group without inbound rules (access goes through
  SSM Session Manager); outbound is HTTPS only.
- The runtime library and its dependencies arrive as one S3 asset of wheels
  built at synth with pip (``bundle.py``) and are installed offline into a
  Python 3.11 venv: no package index at boot. The instances still need a route
  to the AWS APIs (SQS, CloudFormation, CloudWatch Logs, SSM; WorkersStack
  gives them one NAT gateway).
- A failed boot fails the deploy: the instance signals CloudFormation
  (``cfn-signal``) only once the worker service has stayed active, and signals
  failure from any step that fails. The group's creation waits for
  ``min_capacity`` signals; a rolling update replaces one instance at a time,
  keeps ``min_capacity`` in service and waits for each new instance's signal.
- The worker's output (a file the unit appends to) and the boot log reach a
  log group with retention through the CloudWatch agent.
- The role can consume the one queue, read the payload bucket, write the
  table (BatchWriteItem, or PutItem when versioned), read the one bundle
  object, write to its own log group, signal its own stack, complete its
  own scale-in lifecycle action, mark itself Unhealthy in its own group and
  publish its heartbeat (one CloudWatch namespace). Nothing else but the SSM
  Agent's Session Manager actions (``health``).
- Scaling: target tracking on ``visible / IF(inservice > 0, inservice, 1)``,
  the backlog per in-service instance, towards
  ``acceptable_latency / seconds_per_message`` messages (docs/aws-facts.md#tooling: the L2
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

Layout: ``construct`` builds the resources, ``health`` the role, heartbeat and
self-replacement, ``image`` the AMI a stage pins, ``validation`` checks every setting
first, ``scaling`` holds the backlog arithmetic and the scaling policy,
``bundle`` builds the install bundle, and ``user_data`` renders the boot script,
the systemd units and the agent's configuration kept as real files under
``assets/``.
"""

from sqs_blueprint_cdk.workers.construct import Ec2QueueWorkers
from sqs_blueprint_cdk.workers.scaling import backlog_target
from sqs_blueprint_cdk.workers.user_data import LIFECYCLE_HOOK_NAME, SERVICE, WATCHER
from sqs_blueprint_cdk.workers.validation import BUILTIN_WRITE_BUFFER

__all__ = [
    "BUILTIN_WRITE_BUFFER",
    "LIFECYCLE_HOOK_NAME",
    "SERVICE",
    "WATCHER",
    "Ec2QueueWorkers",
    "backlog_target",
]
