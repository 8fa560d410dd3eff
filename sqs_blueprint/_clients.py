"""Lazy, injectable boto3 clients.

A client given by the caller is used as is; otherwise one is created on first
use from the given session (or boto3's default session). The endpoint is left
to boto3, so ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` apply.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError


class LazyClient:
    """One boto3 client, created when first needed."""

    def __init__(self, service: str, client: Any = None, session: Any = None) -> None:
        self._service = service
        self._client = client
        self._session = session

    def __call__(self) -> Any:
        if self._client is None:
            factory = self._session if self._session is not None else boto3
            self._client = factory.client(self._service)
        return self._client


def error_text(error: ClientError) -> str:
    """``Code: Message`` of an AWS error, for reports."""
    info = error.response.get("Error", {})
    return f"{info.get('Code', 'Error')}: {info.get('Message', '')}"
