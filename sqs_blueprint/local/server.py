"""The local cloud: an embedded moto server (or an existing one) and clients for it."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from sqs_blueprint.errors import SqsBlueprintError
from sqs_blueprint.local import moto_fixes, sqs_fast_path
from sqs_blueprint.local.access.control import AccessControl, credentials
from sqs_blueprint.local.in_process import in_process
from sqs_blueprint.local.meter import WriteMeter, WsgiApp

if TYPE_CHECKING:
    from sqs_blueprint.local.deploy import DeployedStack

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

log = logging.getLogger(__name__)
_CONNECT_TIMEOUT_S = 2.0


class LocalCloudError(SqsBlueprintError):
    """The local cloud cannot start, or the server it should use does not answer."""


def _check_port_free(host: str, port: int) -> None:
    """Refuse a port another program listens on, before moto's server thread tries it:
    werkzeug exits that thread when the bind fails and ``ThreadedMotoServer.start``
    then waits forever for a server that never comes up."""
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise LocalCloudError(
            f"cannot start the local cloud on {host}:{port}: {exc.strerror or exc}; "
            "stop the program that uses the port, or choose another with --port "
            "(0 picks a free one)"
        ) from exc
    finally:
        probe.close()


def _check_reachable(endpoint_url: str) -> None:
    """Fail in seconds with one line when nothing answers at ``endpoint_url``."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/", method="GET")
    try:
        with urllib.request.urlopen(request, timeout=_CONNECT_TIMEOUT_S):
            pass
    except urllib.error.HTTPError:
        pass  # something answers; the deploy says what if it is not moto
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise LocalCloudError(
            f"no local cloud answers at {endpoint_url} ({reason}); start one with "
            "`sqs-blueprint local up` in another shell and pass the URL it prints"
        ) from exc


class _DropUnsupported(logging.Filter):
    """Drops moto's notes on what it does not support: callers report those themselves
    (the deploy lists skipped resources; redrive says it moves client-side)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("No Moto CloudFormation support"):
            return False
        if record.exc_info and isinstance(record.exc_info[1], NotImplementedError):
            return False  # Flask's log of an action moto lacks
        return "NotImplementedError: " not in message  # werkzeug's log of the same


def _quiet_moto() -> None:
    """Keep moto's noise out of the user's output.

    werkzeug logs every request at INFO through a handler of its own unless its
    logger has a level. moto's CloudFormation logs and warns about each resource
    type it cannot create; the deploy reports those as skipped instead.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for name in ("moto", "werkzeug"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropUnsupported) for f in logger.filters):
            logger.addFilter(_DropUnsupported())
    warnings.filterwarnings(
        "ignore", message="Tried to parse .* not supported by moto", category=UserWarning
    )


def request_path(moto_app: WsgiApp, meter: WriteMeter) -> WsgiApp:
    """The embedded server's one WSGI chain, outermost first: the write meter (records
    each DynamoDB write), the SQS fast path (the data-plane actions answered from the
    indexed queues, :mod:`sqs_blueprint.local.sqs_fast_path`), then moto for the rest.
    A check that must see every request (an authorization check, say) wraps this chain,
    so it runs before the fast path too."""
    return meter.wsgi(sqs_fast_path.wsgi(moto_app))


@dataclass
class LocalCloud:
    """A moto endpoint plus what has been deployed into it.

    ``LocalCloud.start()`` embeds a fresh moto server in this process;
    ``LocalCloud.connect(url)`` uses one that is already running.
    """

    endpoint_url: str
    region: str = DEFAULT_REGION
    account_id: str = ACCOUNT_ID
    deployed: list[DeployedStack] = field(default_factory=list)
    # Where each published zip asset came from: object key -> local directory.
    code_dirs: dict[str, Path] = field(default_factory=dict)
    _key_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Every DynamoDB write the embedded server serves (None when connected elsewhere).
    meter: WriteMeter | None = None
    # The IAM check of every call the embedded server serves (None when connected elsewhere).
    access: AccessControl | None = None
    _server: Any = None  # moto.server.ThreadedMotoServer when embedded

    @classmethod
    def start(
        cls,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        region: str = DEFAULT_REGION,
        iam: str | None = None,
    ) -> LocalCloud:
        """Start an embedded moto server on ``host``:``port`` (0: a free port), with empty state;
        ``iam``: enforce, audit or off (default: ``SQS_BLUEPRINT_LOCAL_IAM``, else enforce)."""
        from moto.server import ThreadedMotoServer

        _check_port_free(host, port)
        _quiet_moto()
        moto_fixes.apply()
        access = AccessControl(ACCOUNT_ID, region, iam or "")  # before the server: it may fail
        server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        server.start()
        bound_host, bound_port = server.get_host_and_port()
        cloud = cls(endpoint_url=f"http://{bound_host}:{bound_port}", region=region, _server=server)
        cloud.reset()
        cloud.meter = WriteMeter(cloud.key_names)
        cloud.access = access
        wsgi_server = server._server  # werkzeug's handler calls its ``app`` for each request
        if wsgi_server is not None:
            wsgi_server.app = cloud.access.wsgi(request_path(wsgi_server.app, cloud.meter))
        return cloud

    @classmethod
    def connect(cls, endpoint_url: str, *, region: str = DEFAULT_REGION) -> LocalCloud:
        """Use a moto server that is already running at ``endpoint_url``."""
        url = endpoint_url.rstrip("/")
        _check_reachable(url)
        return cls(endpoint_url=url, region=region)

    @property
    def embedded(self) -> bool:
        return self._server is not None

    def reset(self) -> None:
        """Empty every moto backend (moto's own reset endpoint)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
        self.deployed.clear()
        self.code_dirs.clear()
        self._key_names.clear()

    def environment(self, role: str | None = None) -> dict[str, str]:
        """The variables that point an AWS SDK or the CLI at this cloud, as the account's
        administrator or, with ``role`` (an IAM role's ARN), as that role."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **(credentials(role) if role else CREDENTIALS),
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, service: str, *, role: str | None = None, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` in this cloud (as ``role``, an ARN, if given)."""
        keys = credentials(role) if role else CREDENTIALS
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            **kwargs,
        )

    def internal_client(self, service: str, *, role: str | None = None) -> Any:
        """A client for the local cloud's own callers (the mappings' pollers), as AWS's
        services call each other inside AWS: when the server is embedded, its requests
        go to the server's app in this process, not over a socket
        (:mod:`sqs_blueprint.local.in_process`); otherwise a plain :meth:`client`."""
        client = self.client(service, role=role)
        wsgi_server = self._server._server if self._server is not None else None
        return client if wsgi_server is None else in_process(client, wsgi_server.app)

    def key_names(self, table: str) -> tuple[str, ...]:
        """A table's key attribute names, hash key first."""
        with self._lock:
            if table not in self._key_names:
                schema = self.client("dynamodb").describe_table(TableName=table)["Table"]
                ordered = sorted(schema["KeySchema"], key=lambda k: k["KeyType"] != "HASH")
                self._key_names[table] = tuple(k["AttributeName"] for k in ordered)
            return self._key_names[table]

    def deploy(self, cdk_out: str | Path, *, update: bool = False) -> list[DeployedStack]:
        """Publish the assets of the assembly in ``cdk_out`` and create all its stacks;
        with ``update``, the stacks that exist already are updated in place."""
        from sqs_blueprint.local.assembly import read_assembly
        from sqs_blueprint.local.deploy import deploy_assembly

        return deploy_assembly(self, read_assembly(cdk_out), update=update)

    def code_dir(self, key: str) -> Path | None:
        """The local directory a published code zip (object ``key``) was made from:
        this cloud's own record, else the metadata another process wrote with it."""
        from sqs_blueprint.local.deploy import SOURCE_METADATA

        if key in self.code_dirs:
            return self.code_dirs[key]
        s3 = self.client("s3")
        for bucket in s3.list_buckets().get("Buckets", []):
            try:
                head = s3.head_object(Bucket=bucket["Name"], Key=key)
            except ClientError:
                continue
            source = head.get("Metadata", {}).get(SOURCE_METADATA)
            if source:
                self.code_dirs[key] = Path(source)
                return self.code_dirs[key]
        return None

    def warn_if_moto_triggers_run(self) -> None:
        """Warn when moto's own SQS-to-Lambda trigger may still receive for a mapping.

        An embedded server never has one: :func:`moto_fixes.apply` keeps moto from
        recording mappings on queues, so only the local runner receives for them
        (moto's trigger would invoke the function in Docker and count a receive). A
        server in another process keeps its trigger.
        """
        if not self.embedded:
            log.warning(
                "moto at %s is not embedded: its own event-source-mapping trigger stays active "
                "and will try to invoke functions when messages arrive",
                self.endpoint_url,
            )

    def stop(self) -> None:
        """Stop the embedded server (a connected one is left running)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.access is not None:
            self.access.close()

    def __enter__(self) -> LocalCloud:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
