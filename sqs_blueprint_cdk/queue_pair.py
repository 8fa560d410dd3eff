"""A queue and its dead-letter queue, paired so they cannot be misconfigured.

Rules, with their sources in docs/aws-facts.md#sqs-limits:
- the DLQ has the source's type (FIFO or standard) and, for FIFO, the same
  high-throughput settings; an imported DLQ of the other type is refused;
- a standard DLQ keeps messages strictly longer than its source, because a
  standard queue keeps the original enqueue time when a message moves;
- the DLQ's RedriveAllowPolicy names only its source (``byQueue``);
- both queues are encrypted (SQS-managed keys unless a KMS key is asked for)
  and refuse requests without TLS;
- both state ``MaximumMessageSize``: the source takes ``max_message_bytes``
  (1 MiB unless set lower), the DLQ always the SQS maximum, so a dead letter
  fits whatever the source's setting was when it was sent, and a redrive back
  fits the source as long as its maximum was not lowered since.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, Duration, Names, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sqs_blueprint import limits
from sqs_blueprint.limits import SQS_MAX_MESSAGE_BYTES, SQS_MIN_MAX_MESSAGE_BYTES
from sqs_blueprint_cdk._validation import Check, Problems

# The service's limits (sqs_blueprint.limits, docs/aws-facts.md#sqs-limits).
MAX_VISIBILITY_S = limits.SQS_MAX_VISIBILITY_TIMEOUT_S
MIN_RETENTION_S = limits.SQS_MIN_RETENTION_S
MAX_RETENTION_S = limits.SQS_MAX_RETENTION_S
MAX_RECEIVE_COUNT = limits.SQS_MAX_RECEIVE_COUNT
_QUEUE_NAME_MAX = limits.SQS_MAX_QUEUE_NAME_LENGTH
_DEFAULT_VISIBILITY = Duration.seconds(30)


class QueueWithDlq(Construct):
    """A source queue (``.queue``) with a dead-letter queue of the same type
    (``.dead_letter_queue``).

    ``visibility_timeout`` may be left out when a consumer pattern derives it
    (see :meth:`ensure_visibility_at_least`); until then it is 30 s.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        fifo: bool = False,
        max_receive_count: int = 5,
        visibility_timeout: Duration | None = None,
        retention_period: Duration = Duration.days(4),
        dlq_retention_period: Duration = Duration.days(14),
        dead_letter_queue: sqs.IQueue | None = None,
        content_based_deduplication: bool = False,
        high_throughput: bool = False,
        encryption_key: kms.IKey | None = None,
        customer_managed_key: bool = False,
        queue_name: str | None = None,
        receive_message_wait_time: Duration | None = None,
        max_message_bytes: int = SQS_MAX_MESSAGE_BYTES,
    ) -> None:
        super().__init__(scope, id_)
        problems = Problems(f"QueueWithDlq '{self.node.path}'")
        check = problems.check
        _check_sizes(check, max_message_bytes, max_receive_count, visibility_timeout)
        _check_retention(check, fifo, retention_period, dlq_retention_period, dead_letter_queue)
        _check_fifo_only(
            check, fifo, dead_letter_queue, content_based_deduplication, high_throughput
        )
        _check_key_and_name(check, fifo, encryption_key, customer_managed_key, queue_name)
        problems.raise_if_any()

        self.fifo = fifo
        self.max_receive_count = max_receive_count
        self.max_message_bytes = max_message_bytes
        self.retention_period = retention_period
        # An imported DLQ's retention is unknown here: assume the SQS maximum.
        self.dlq_retention_period = (
            dlq_retention_period if dead_letter_queue is None else Duration.seconds(MAX_RETENTION_S)
        )
        self._visibility_given = visibility_timeout is not None

        self.encryption_key = self._key(encryption_key, customer_managed_key)
        # Explicit, stable names: FIFO queues need them, and the DLQ's
        # RedriveAllowPolicy names the source by ARN without a dependency cycle.
        name = queue_name or _default_name(self, fifo)
        fifo_settings = _fifo_settings(fifo, high_throughput)
        if dead_letter_queue is None:
            dead_letter_queue = self._new_dead_letter_queue(
                name, dlq_retention_period, fifo_settings
            )
        self.dead_letter_queue: sqs.IQueue = dead_letter_queue

        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=name,
            visibility_timeout=visibility_timeout or _DEFAULT_VISIBILITY,
            retention_period=retention_period,
            receive_message_wait_time=receive_message_wait_time,
            max_message_size_bytes=max_message_bytes,
            encryption=self._encryption,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            content_based_deduplication=content_based_deduplication or None,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letter_queue, max_receive_count=max_receive_count
            ),
            **fifo_settings,
        )
        self._visibility_s = (visibility_timeout or _DEFAULT_VISIBILITY).to_seconds()

    def _key(self, given: kms.IKey | None, customer_managed_key: bool) -> kms.IKey | None:
        """The KMS key of both queues: a new rotated one, the one given, or none (SQS-managed)."""
        if not customer_managed_key:
            return given
        return kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"Encrypts the messages of {self.node.path}",
        )

    @property
    def _encryption(self) -> sqs.QueueEncryption:
        return sqs.QueueEncryption.KMS if self.encryption_key else sqs.QueueEncryption.SQS_MANAGED

    def _new_dead_letter_queue(
        self, name: str, retention_period: Duration, fifo_settings: dict[str, Any]
    ) -> sqs.Queue:
        """The DLQ of the source queue ``name``: kept at the SQS maximum message size,
        redriven back only to its source."""
        source_ref = sqs.Queue.from_queue_arn(
            self,
            "SourceRef",
            Stack.of(self).format_arn(service="sqs", resource=name),
        )
        return sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=_dlq_name(name, self.fifo),
            retention_period=retention_period,
            max_message_size_bytes=SQS_MAX_MESSAGE_BYTES,
            encryption=self._encryption,
            encryption_master_key=self.encryption_key,
            enforce_ssl=True,
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE,
                source_queues=[source_ref],
            ),
            **fifo_settings,
        )

    @property
    def visibility_timeout(self) -> Duration:
        """The source queue's visibility timeout as it will be deployed."""
        return Duration.seconds(self._visibility_s)

    @property
    def visibility_given(self) -> bool:
        """True when the caller chose the visibility timeout explicitly."""
        return self._visibility_given

    def ensure_visibility_at_least(
        self, required: Duration, *, reason: str, allow_short: bool = False
    ) -> None:
        """Make the source queue's visibility at least ``required``.

        A visibility left to the pattern is raised to ``required``; one given
        explicitly and too short is an error explaining ``reason``, unless
        ``allow_short`` is set, which leaves a warning on the queue instead.
        """
        need = int(required.to_seconds())
        have = int(self._visibility_s)
        if have >= need:
            return
        problems = Problems(f"QueueWithDlq '{self.node.path}'")
        problems.check(
            need <= MAX_VISIBILITY_S,
            "visibility_timeout (required)",
            f"{need} s",
            f"{reason}, but SQS allows at most {MAX_VISIBILITY_S} s",
            "shorten the consumer's timeout or batching window",
        )
        problems.raise_if_any()
        if not self._visibility_given:
            self._set_visibility(need)
        elif allow_short:
            Annotations.of(self.queue).add_warning_v2(
                "sqs-blueprint:ShortVisibility",
                f"visibility_timeout is {have} s but {reason} ({need} s): a message may be "
                "delivered again while its first delivery is still being processed.",
            )
        else:
            problems.check(
                False,
                "visibility_timeout",
                f"{have} s",
                f"{reason} = {need} s",
                f"set visibility_timeout to at least Duration.seconds({need}), leave it unset "
                "so the consumer derives it, or pass allow_short_visibility=True",
            )
            problems.raise_if_any()

    def grant_redrive(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant exactly what a native redrive of the DLQ to its source needs.

        StartMessageMoveTask reads and deletes from the DLQ and sends to the
        source; List/CancelMessageMoveTasks follow and stop it.
        """
        dlq = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[
                "sqs:StartMessageMoveTask",
                "sqs:ListMessageMoveTasks",
                "sqs:CancelMessageMoveTask",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ListDeadLetterSourceQueues",
            ],
            resource_arns=[self.dead_letter_queue.queue_arn],
        )
        dlq.combine(self.queue.grant_send_messages(grantee))
        if self.dead_letter_queue.encryption_master_key:
            self.dead_letter_queue.encryption_master_key.grant_decrypt(grantee)
        return dlq

    def _set_visibility(self, seconds: int) -> None:
        cfn = self.queue.node.default_child
        assert isinstance(cfn, sqs.CfnQueue)
        cfn.visibility_timeout = seconds
        self._visibility_s = seconds


def _check_sizes(
    check: Check,
    max_message_bytes: int,
    max_receive_count: int,
    visibility_timeout: Duration | None,
) -> None:
    """The message size, receive count and visibility within the SQS limits."""
    check(
        isinstance(max_message_bytes, int)
        and not isinstance(max_message_bytes, bool)
        and SQS_MIN_MAX_MESSAGE_BYTES <= max_message_bytes <= SQS_MAX_MESSAGE_BYTES,
        "max_message_bytes",
        max_message_bytes,
        f"must be a whole number of bytes, {SQS_MIN_MAX_MESSAGE_BYTES:,}..{SQS_MAX_MESSAGE_BYTES:,}"
        " (SQS MaximumMessageSize, docs/aws-facts.md#sqs-limits)",
        f"leave it unset for {SQS_MAX_MESSAGE_BYTES:,} (1 MiB), or choose a size in that range",
    )
    check(
        1 <= max_receive_count <= MAX_RECEIVE_COUNT,
        "max_receive_count",
        max_receive_count,
        f"must be 1..{MAX_RECEIVE_COUNT} (SQS RedrivePolicy limit)",
        "use 5 or more for Lambda consumers, as AWS advises",
    )
    if visibility_timeout is not None:
        seconds = visibility_timeout.to_seconds()
        check(
            0 <= seconds <= MAX_VISIBILITY_S,
            "visibility_timeout",
            f"{seconds:.0f} s",
            f"must be 0..{MAX_VISIBILITY_S} s (12 hours)",
            "shorten the processing time or extend visibility while working",
        )


def _check_retention(
    check: Check,
    fifo: bool,
    retention_period: Duration,
    dlq_retention_period: Duration,
    dead_letter_queue: sqs.IQueue | None,
) -> None:
    """Both retentions within the SQS limits; a new standard DLQ keeps messages longer."""
    for setting, period in (
        ("retention_period", retention_period),
        ("dlq_retention_period", dlq_retention_period),
    ):
        seconds = period.to_seconds()
        check(
            MIN_RETENTION_S <= seconds <= MAX_RETENTION_S,
            setting,
            f"{seconds:.0f} s",
            f"must be {MIN_RETENTION_S}..{MAX_RETENTION_S} s (60 s to 14 days)",
            "choose a retention within the SQS limits",
        )
    if not fifo and dead_letter_queue is None:
        check(
            dlq_retention_period.to_seconds() > retention_period.to_seconds(),
            "dlq_retention_period",
            f"{dlq_retention_period.to_seconds():.0f} s",
            f"must be longer than retention_period ({retention_period.to_seconds():.0f} s): a "
            "standard queue keeps the original enqueue time when a message moves to its DLQ, "
            "so it would expire there early",
            "raise dlq_retention_period (up to 14 days) or shorten retention_period",
        )


def _check_fifo_only(
    check: Check,
    fifo: bool,
    dead_letter_queue: sqs.IQueue | None,
    content_based_deduplication: bool,
    high_throughput: bool,
) -> None:
    """An imported DLQ of the source's type; FIFO settings only on a FIFO queue."""
    if dead_letter_queue is not None:
        dlq_fifo = bool(dead_letter_queue.fifo)
        check(
            dlq_fifo == fifo,
            "dead_letter_queue",
            f"{'FIFO' if dlq_fifo else 'standard'} queue {dead_letter_queue.node.path}",
            f"a {'FIFO' if fifo else 'standard'} source needs a "
            f"{'FIFO' if fifo else 'standard'} dead-letter queue",
            "pass a DLQ of the same type, or leave dead_letter_queue unset to create one",
        )
    if not fifo:
        for setting, value in (
            ("content_based_deduplication", content_based_deduplication),
            ("high_throughput", high_throughput),
        ):
            check(
                not value,
                setting,
                value,
                "applies to FIFO queues only",
                "set fifo=True or drop the setting",
            )


def _check_key_and_name(
    check: Check,
    fifo: bool,
    encryption_key: kms.IKey | None,
    customer_managed_key: bool,
    queue_name: str | None,
) -> None:
    """One key at most; a queue name that matches ``fifo`` and leaves room for '-dlq'."""
    check(
        not (customer_managed_key and encryption_key is not None),
        "customer_managed_key",
        customer_managed_key,
        "cannot be combined with encryption_key (one key only)",
        "either pass encryption_key or set customer_managed_key=True",
    )
    if queue_name is not None:
        check(
            queue_name.endswith(".fifo") == fifo,
            "queue_name",
            queue_name,
            "FIFO queue names end in '.fifo' and standard queue names do not",
            "make the name match fifo",
        )
        check(
            len(queue_name) <= _QUEUE_NAME_MAX - len("-dlq"),
            "queue_name",
            queue_name,
            f"must leave room for the DLQ's '-dlq' suffix ({_QUEUE_NAME_MAX} characters in all)",
            "shorten the name",
        )


def _default_name(scope: Construct, fifo: bool) -> str:
    suffix = ".fifo" if fifo else ""
    room = _QUEUE_NAME_MAX - len("-dlq") - len(suffix)
    return Names.unique_resource_name(scope, max_length=room, separator="-") + suffix


def _dlq_name(source_name: str, fifo: bool) -> str:
    if fifo:
        return source_name.removesuffix(".fifo") + "-dlq.fifo"
    return source_name + "-dlq"


def _fifo_settings(fifo: bool, high_throughput: bool) -> dict[str, Any]:
    if not fifo:
        return {}
    settings: dict[str, Any] = {"fifo": True}
    # docs/aws-facts.md#sqs-limits: both settings together enable high-throughput mode.
    if high_throughput:
        settings["deduplication_scope"] = sqs.DeduplicationScope.MESSAGE_GROUP
        settings["fifo_throughput_limit"] = sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID
    return settings
