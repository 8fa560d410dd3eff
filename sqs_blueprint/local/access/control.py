"""The local cloud's access check: every data-plane call attributed and evaluated.

Each call is attributed to a principal by the access key id that signed it: a
deployed role's name is that role (the local runtimes of a function or worker
sign with it, :func:`credentials`), any other key is the account administrator
(``local-administrator``, allowed everything by its identity policy and still
subject to resource policies' denies). The call's actions and resources
(:mod:`.requests`) are evaluated with the role's identity policies and the
resource's policy (:mod:`.policies`) by the IAM policy simulator
(:mod:`.evaluator`), and, when the resource is encrypted with a KMS key, the
key use the service makes on the caller's behalf (``kms:ViaService``).

Modes (``SQS_BLUEPRINT_LOCAL_IAM`` or the ``--iam`` option): ``enforce`` answers
a denied call with the service's AccessDenied; ``audit`` lets it through and
reports it; ``off`` checks nothing.
"""

from __future__ import annotations

import io
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqs_blueprint.errors import UsageError
from sqs_blueprint.local.access.evaluator import Decision, Evaluator, Request
from sqs_blueprint.local.access.policies import ADMINISTRATOR, Policy, PolicySet
from sqs_blueprint.local.access.requests import (
    CHECKED_SERVICES,
    Access,
    Parsed,
    caller,
    parse,
    policy_written,
)
from sqs_blueprint.local.access.responses import access_denied, denied_message
from sqs_blueprint.local.access.usage import AccessReport, Denial, Grant, unused_grants

MODES = ("enforce", "audit", "off")
# What the check applies that moto alone does not (deploy's "not applied locally" list).
APPLIED = frozenset(
    {
        "AWS::SQS::QueuePolicy",
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
    }
)
MODE_ENV = "SQS_BLUEPRINT_LOCAL_IAM"
SESSION = "local"  # the session name in the assumed-role ARN of a local runtime
# Where the service uses the caller's KMS key for it, and which KMS actions it needs
# (docs/aws-facts.md#iam-evaluation).
_KMS_ON_BEHALF = {
    "sqs:SendMessage": ("kms:GenerateDataKey",),
    "sqs:ReceiveMessage": ("kms:Decrypt",),
    "sns:Publish": ("kms:GenerateDataKey", "kms:Decrypt"),
    "s3:PutObject": ("kms:GenerateDataKey",),
    "s3:GetObject": ("kms:Decrypt",),
}

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def mode_from(value: str | None) -> str:
    """The mode ``value`` names, else ``SQS_BLUEPRINT_LOCAL_IAM``'s, else enforce."""
    chosen = (value or os.environ.get(MODE_ENV) or "enforce").strip().lower()
    if chosen not in MODES:
        raise UsageError(
            f"IAM mode {chosen!r} is not one of {', '.join(MODES)}: choose enforce (deny as "
            f"AWS would), audit (report denials, let calls through) or off ({MODE_ENV} or --iam)"
        )
    return chosen


def credentials(role_arn: str) -> dict[str, str]:
    """The environment that makes a process call the local cloud as ``role_arn``'s role."""
    name = role_arn.rsplit("/", 1)[-1]
    return {"AWS_ACCESS_KEY_ID": name, "AWS_SECRET_ACCESS_KEY": "local"}


class AccessControl:
    """Checks every call the wrapped application serves; see the module's notes."""

    def __init__(self, account: str, region: str, mode: str) -> None:
        self.mode = mode_from(mode)
        self.policies = PolicySet(account, region)
        self._stacks: dict[str, tuple[dict[str, Any], dict[str, str], dict[str, str]]] = {}
        self._written: dict[str, Policy | None] = {}  # resource policies set through the API
        self._evaluator = Evaluator() if self.mode != "off" else None
        self._lock = threading.Lock()
        self._checked = 0
        self._denied: Counter[Denial] = Counter()
        self._used: set[tuple[str, Grant]] = set()

    # ------------------------------------------------------------ policies in force

    def add_stack(
        self,
        name: str,
        template: dict[str, Any],
        resources: Mapping[str, str],
        types: Mapping[str, str],
    ) -> None:
        """Put (or replace) one deployed stack's policies in force."""
        with self._lock:
            self._stacks[name] = (template, dict(resources), dict(types))
        self._rebuild()

    def _rebuild(self) -> None:
        with self._lock:
            policies = PolicySet(self.policies.account, self.policies.region)
            for stack in self._stacks.values():
                policies.add_stack(*stack)
            for resource, policy in self._written.items():
                if policy is None:
                    policies.resource.pop(resource, None)
                else:
                    policies.resource[resource] = policy
            self.policies = policies
        if self._evaluator is not None:
            self._evaluator.clear()

    def _remember(self, parsed: Parsed, body: bytes) -> None:
        """Put a resource policy set (or deleted) through the API in force."""
        written = policy_written(parsed, body)
        if written is not None:
            with self._lock:
                self._written[_policy_target(written[0])] = written[1]
            self._rebuild()

    def role(self, access_key: str) -> str:
        return access_key if access_key in self.policies.identity else ADMINISTRATOR

    def principal_arn(self, role: str) -> str:
        return f"arn:aws:sts::{self.policies.account}:assumed-role/{role}/{SESSION}"

    # ------------------------------------------------------------ checking

    def check(self, parsed: Parsed) -> Denial | None:
        """Evaluate every action ``parsed`` needs; the first denial, or None."""
        assert self._evaluator is not None
        role = self.role(parsed.access_key)
        principal = self.principal_arn(role)
        base = {
            "aws:SecureTransport": "true",  # the local endpoint stands in for AWS's TLS one
            "aws:PrincipalArn": self.policies.role_arn(role),
            "aws:PrincipalAccount": self.policies.account,
        }
        denial = None
        for access, extra in self._needed(parsed):
            request = Request(principal, access.action, access.resource, _context(base, extra))
            decision = self._decide(role, request)
            if not decision.allowed and denial is None:
                denial = Denial(
                    principal, access.action, access.resource, decision.result, decision.detail
                )
        with self._lock:
            self._checked += 1
            if denial is not None:
                self._denied[denial] += 1
        return denial

    def _needed(self, parsed: Parsed) -> list[tuple[Access, dict[str, str]]]:
        needed: list[tuple[Access, dict[str, str]]] = [(a, {}) for a in parsed.accesses]
        via = {
            "kms:ViaService": f"{parsed.service}.{parsed.region}.amazonaws.com",
            "kms:CallerAccount": self.policies.account,
        }
        for access in parsed.accesses:
            target = access.resource.split("/", 1)[0] if parsed.service == "s3" else access.resource
            key = self.policies.encrypted_by.get(target)
            for action in _KMS_ON_BEHALF.get(access.action, ()) if key else ():
                needed.append((Access(action, str(key)), via))
        return needed

    def _decide(self, role: str, request: Request) -> Decision:
        """The decision on ``request``; the grants it used are recorded when it is made
        (a cached decision used the same grants)."""
        assert self._evaluator is not None
        found = self._evaluator.cached(request)
        if found is not None:
            return found
        resource_policy = self.policies.resource.get(_policy_target(request.resource))
        found = self._evaluator.decide(
            request, self.policies.account, self.policies.identity_policies(role), resource_policy
        )
        if found.allowed and role != ADMINISTRATOR:
            with self._lock:
                self._used.update(
                    (role, (p, s, a, r))
                    for p, s, actions, rs in found.grants
                    for a in actions
                    for r in rs
                )
        return found

    # ------------------------------------------------------------ at the server

    def wsgi(self, app: WsgiApp) -> WsgiApp:
        """``app`` with each call checked first (see the module's notes for the modes)."""

        def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if self.mode == "off":
                return app(environ, start_response)
            signed = caller(environ)
            if signed is None or signed[2] not in CHECKED_SERVICES:
                return app(environ, start_response)
            body = b""
            query = environ.get("QUERY_STRING", "")
            if signed[2] != "s3" or environ.get("REQUEST_METHOD") == "POST" or "policy" in query:
                body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
                environ["wsgi.input"] = io.BytesIO(body)
            parsed = parse(environ, body, self.policies.account)
            denial = None if parsed is None else self.check(parsed)
            if denial is None or self.mode != "enforce" or parsed is None:
                return self._served(app, environ, start_response, parsed, body)
            message = denied_message(
                denial.principal, denial.action, denial.resource, denial.result
            )
            json_protocol = bool(environ.get("HTTP_X_AMZ_TARGET"))
            status, headers, payload = access_denied(
                parsed.service, json_protocol, environ.get("REQUEST_METHOD", ""), message
            )
            start_response(status, [*headers, ("Content-Length", str(len(payload)))])
            return [payload]

        return checked

    def _served(
        self,
        app: WsgiApp,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        parsed: Parsed | None,
        body: bytes,
    ) -> Iterable[bytes]:
        """``app``'s answer; a policy it set successfully is put in force."""
        if parsed is None or policy_written(parsed, body) is None:
            return app(environ, start_response)
        status: list[str] = []

        def capture(code: str, headers: Any, *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        chunks = list(app(environ, capture))
        if status and status[0].startswith("2"):
            self._remember(parsed, body)
        return chunks

    # ------------------------------------------------------------ what it found

    def report(self) -> AccessReport:
        with self._lock:
            identity = {r: p for r, p in self.policies.identity.items() if p}
            return AccessReport(
                mode=self.mode,
                calls_checked=self._checked,
                denied=dict(self._denied),
                unused=unused_grants(identity, self._used),
                not_evaluated={r: tuple(a) for r, a in self.policies.unknown.items()},
            )

    def close(self) -> None:
        if self._evaluator is not None:
            self._evaluator.close()


def _context(base: Mapping[str, str], extra: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({**base, **extra}.items()))


def _policy_target(resource: str) -> str:
    """The ARN whose resource policy governs ``resource`` (a bucket's for its objects)."""
    if resource.startswith("arn:aws:s3:::"):
        return resource.split("/", 1)[0]
    return resource
