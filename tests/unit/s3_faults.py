"""S3 faults moto cannot produce, injected with a botocore hook on one client."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

# Code, HTTP status and message as S3 answers them.
S3_FAULTS = {
    "AccessDenied": (403, "Access Denied"),
    "InternalError": (500, "We encountered an internal error. Please try again."),
    "SlowDown": (503, "Please reduce your request rate."),
}


def fail_get_object(s3: Any, key: str, code: str) -> Any:
    """Make GetObject of ``key`` fail with ``code``; returns the hook, to unregister it."""
    status, message = S3_FAULTS[code]

    def hook(params: dict[str, Any], **_: Any) -> None:
        if params["url_path"].endswith(f"/{key}"):
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": message},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                "GetObject",
            )

    s3.meta.events.register("before-call.s3.GetObject", hook)
    return hook
