"""What one HTTP request to the local cloud asks for: its service, its caller's
access key id, and the IAM actions and resource ARNs it needs
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).

- SQS (JSON protocol, ``X-Amz-Target: AmazonSQS.<Operation>``, or the query
  protocol): ``sqs:<Operation>`` on the queue of ``QueueUrl``/``QueueName``; a
  batch needs the action of its single form (``sqs:SendMessage`` for
  ``SendMessageBatch``);
- DynamoDB (``DynamoDB_20120810.<Operation>``): ``dynamodb:<Operation>`` on the
  table of ``TableName`` (its index for a query by ``IndexName``), on each table
  of a batch, and each item's action for a transaction;
- KMS (``TrentService.<Operation>``): ``kms:<Operation>`` on the key of ``KeyId``
  (a ``Decrypt`` without one: the key named in moto's ciphertext header);
- SNS (query protocol): ``sns:<Action>`` on the topic of ``TopicArn``;
- S3 (REST, path style): the action of the method, the object or bucket and the
  subresource, on the bucket's or the object's ARN.

Every other request (CloudFormation, Lambda, IAM, moto's own API) is not
checked: the local cloud enforces the data plane its pipelines use.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

CHECKED_SERVICES = frozenset({"sqs", "dynamodb", "kms", "sns", "s3"})
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/")
_TARGETS = {"AmazonSQS": "sqs", "DynamoDB_20120810": "dynamodb", "TrentService": "kms"}
_SQS_SINGLE = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_DDB_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_KMS_KEY_ID_LEN = 36  # moto's ciphertext blob starts with the key id


@dataclass(frozen=True)
class Access:
    """One action on one resource that a request needs."""

    action: str
    resource: str


@dataclass(frozen=True)
class Parsed:
    """A request the local cloud checks: who asks (access key id) and what it needs."""

    service: str
    operation: str
    access_key: str
    region: str
    accesses: tuple[Access, ...]


def caller(environ: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(access key id, region, service) from the request's SigV4 signature, or None."""
    found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found is None:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        credential = query.get("X-Amz-Credential", [""])[0]
        found = _CREDENTIAL.search(f"Credential={credential}/")
    if found is None:
        return None
    return found.group(1), found.group(2), found.group(3)


def needs_body(environ: Mapping[str, Any]) -> bool:
    """Whether :func:`parse` needs the request's body (all but S3's)."""
    signed = caller(environ)
    return signed is not None and signed[2] in CHECKED_SERVICES and signed[2] != "s3"


def parse(environ: Mapping[str, Any], body: bytes, account: str) -> Parsed | None:
    """What the request needs, or None when the local cloud does not check it."""
    signed = caller(environ)
    if signed is None or signed[2] not in CHECKED_SERVICES:
        return None
    access_key, region, service = signed
    arns = _Arns(account, region)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, operation = target.partition(".")
        service = _TARGETS.get(prefix, service)
        params = json.loads(body or b"{}")
    elif service == "s3":
        operation, found = _s3(environ, body)
        return Parsed(service, operation, access_key, region, found)
    else:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        params = {k: v[0] for k, v in form.items()}
        operation = params.pop("Action", "")
    accesses = {
        "sqs": _sqs,
        "dynamodb": _dynamodb,
        "kms": _kms,
        "sns": _sns,
    }[service](operation, params, arns)
    return Parsed(service, operation, access_key, region, tuple(accesses))


@dataclass(frozen=True)
class _Arns:
    account: str
    region: str

    def queue(self, url_or_name: str) -> str:
        name = url_or_name.rstrip("/").rsplit("/", 1)[-1]
        parts = urllib.parse.urlparse(url_or_name).path.strip("/").split("/")
        owner = parts[0] if len(parts) == 2 and parts[0].isdigit() else self.account
        return f"arn:aws:sqs:{self.region}:{owner}:{name}"

    def table(self, name: str) -> str:
        return (
            name
            if name.startswith("arn:")
            else (f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}")
        )

    def key(self, key: str) -> str:
        if key.startswith("arn:"):
            return key
        name = key if key.startswith("alias/") else f"key/{key}"
        return f"arn:aws:kms:{self.region}:{self.account}:{name}"


def _sqs(operation: str, params: Mapping[str, Any], arns: _Arns) -> list[Access]:
    action = "sqs:" + _SQS_SINGLE.get(operation, operation)
    if "QueueUrl" in params:
        return [Access(action, arns.queue(params["QueueUrl"]))]
    if "QueueName" in params:
        owner = params.get("QueueOwnerAWSAccountId") or arns.account
        return [Access(action, f"arn:aws:sqs:{arns.region}:{owner}:{params['QueueName']}")]
    if "SourceArn" in params:  # message move tasks
        return [Access(action, params["SourceArn"])]
    return [Access(action, "*")]


def _dynamodb(operation: str, params: Mapping[str, Any], arns: _Arns) -> list[Access]:
    action = f"dynamodb:{operation}"
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [Access(action, arns.table(t)) for t in params.get("RequestItems", {})]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for entry in params.get("TransactItems", []):
            for kind, item in entry.items():
                found.append(
                    Access(f"dynamodb:{_DDB_TRANSACT[kind]}", arns.table(item["TableName"]))
                )
        return found
    table = params.get("TableName") or params.get("TableArn") or params.get("ResourceArn")
    if not table:
        return [Access(action, "*")]
    resource = arns.table(table)
    if params.get("IndexName"):
        resource += f"/index/{params['IndexName']}"
    return [Access(action, resource)]


def kms_key_of_ciphertext(blob: str) -> str | None:
    try:
        raw = base64.b64decode(blob)[:_KMS_KEY_ID_LEN]
        return raw.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None


def _kms(operation: str, params: Mapping[str, Any], arns: _Arns) -> list[Access]:
    action = f"kms:{operation}"
    key = params.get("KeyId") or params.get("TargetKeyId")
    if key is None and operation == "Decrypt":
        key = kms_key_of_ciphertext(params.get("CiphertextBlob", ""))
    return [Access(action, arns.key(key) if key else "*")]


def _sns(operation: str, params: Mapping[str, Any], arns: _Arns) -> list[Access]:
    action = "sns:Publish" if operation == "PublishBatch" else f"sns:{operation}"
    topic = params.get("TopicArn") or params.get("TargetArn")
    if topic is None and params.get("SubscriptionArn"):
        topic = params["SubscriptionArn"].rsplit(":", 1)[0]
    if topic is None and operation == "CreateTopic":
        topic = f"arn:aws:sns:{arns.region}:{arns.account}:{params.get('Name', '')}"
    return [Access(action, topic or "*")]


def _s3(environ: Mapping[str, Any], body: bytes) -> tuple[str, tuple[Access, ...]]:
    method = environ.get("REQUEST_METHOD", "GET")
    # WSGI passes the decoded path's bytes as latin-1 text (PEP 3333)
    path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace").lstrip("/")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    bucket, _, key = path.partition("/")
    if not bucket:
        return "ListBuckets", (Access("s3:ListAllMyBuckets", "*"),)
    if key:
        action = _s3_object_action(method, query)
        accesses = [Access(action, f"arn:aws:s3:::{bucket}/{key}")]
        source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
        if source and method == "PUT":
            accesses.append(
                Access(
                    "s3:GetObject",
                    "arn:aws:s3:::" + urllib.parse.unquote(source).lstrip("/").split("?")[0],
                )
            )
        return action.removeprefix("s3:"), tuple(accesses)
    if method == "POST" and "delete" in query:
        keys = [
            e.text or ""
            for e in ElementTree.fromstring(body or b"<Delete/>").iter()
            if e.tag.endswith("Key")
        ]
        return "DeleteObjects", tuple(
            Access("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{k}") for k in keys
        )
    action = _s3_bucket_action(method, query)
    return action.removeprefix("s3:"), (Access(action, f"arn:aws:s3:::{bucket}"),)


_S3_BUCKET_SUBRESOURCES = {  # subresource -> (the action's name between Get/Put/Delete and end)
    "policy": "BucketPolicy",
    "notification": "BucketNotification",
    "tagging": "BucketTagging",
    "versioning": "BucketVersioning",
    "acl": "BucketAcl",
    "cors": "BucketCORS",
    "encryption": "EncryptionConfiguration",
    "lifecycle": "LifecycleConfiguration",
    "publicAccessBlock": "BucketPublicAccessBlock",
    "ownershipControls": "BucketOwnershipControls",
    "website": "BucketWebsite",
    "logging": "BucketLogging",
}


def _s3_bucket_action(method: str, query: Mapping[str, Any]) -> str:
    for sub, name in _S3_BUCKET_SUBRESOURCES.items():
        if sub in query:
            verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, "Get")
            if sub == "notification":
                return f"s3:{verb}BucketNotification".replace(
                    "DeleteBucketNotification", "PutBucketNotification"
                )
            return f"s3:{verb}{name}"
    if "location" in query:
        return "s3:GetBucketLocation"
    if "versions" in query:
        return "s3:ListBucketVersions"
    if "uploads" in query:
        return "s3:ListBucketMultipartUploads"
    return {"PUT": "s3:CreateBucket", "DELETE": "s3:DeleteBucket"}.get(method, "s3:ListBucket")


def _s3_object_action(method: str, query: Mapping[str, Any]) -> str:
    versioned = "versionId" in query
    if "tagging" in query:
        return {"GET": "s3:GetObjectTagging", "PUT": "s3:PutObjectTagging"}.get(
            method, "s3:DeleteObjectTagging"
        )
    if "acl" in query:
        return "s3:GetObjectAcl" if method == "GET" else "s3:PutObjectAcl"
    if "uploadId" in query:
        return {"DELETE": "s3:AbortMultipartUpload", "GET": "s3:ListMultipartUploadParts"}.get(
            method, "s3:PutObject"
        )
    if method in ("GET", "HEAD"):
        return "s3:GetObjectVersion" if versioned else "s3:GetObject"
    if method == "DELETE":
        return "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject"
    return "s3:PutObject"  # PUT, and POST ?uploads


def policy_written(parsed: Parsed, body: bytes) -> tuple[str, dict[str, Any] | None] | None:
    """(resource ARN, its new policy, None when removed) when ``parsed`` sets or deletes a
    queue, bucket, topic or key policy through the API; else None."""
    if not parsed.accesses:
        return None
    resource = parsed.accesses[0].resource
    text: str | None
    if parsed.operation in ("PutBucketPolicy", "DeleteBucketPolicy"):
        text = body.decode() if parsed.operation == "PutBucketPolicy" else None
    elif parsed.operation == "SetQueueAttributes":
        attributes = _params(parsed, body).get("Attributes", {})
        if "Policy" not in attributes:
            return None
        text = attributes["Policy"] or None
    elif parsed.operation == "SetTopicAttributes":
        params = _params(parsed, body)
        if params.get("AttributeName") != "Policy":
            return None
        text = params.get("AttributeValue") or None
    elif parsed.operation == "PutKeyPolicy":
        text = _params(parsed, body).get("Policy")
    else:
        return None
    return resource, (json.loads(text) if text else None)


def _params(parsed: Parsed, body: bytes) -> dict[str, Any]:
    """A JSON or query request's parameters (a query's ``Attributes.N.Name/Value`` as a map)."""
    if body.lstrip().startswith(b"{"):
        found: dict[str, Any] = json.loads(body)
        return found
    form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
    names = {k.rsplit(".", 1)[0]: v for k, v in form.items() if k.endswith(".Name")}
    params: dict[str, Any] = dict(form)
    params["Attributes"] = {v: form.get(f"{k}.Value", "") for k, v in names.items()}
    return params
