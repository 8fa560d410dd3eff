"""A botocore transport that hands each request to the embedded server's WSGI app in
this process, instead of over a socket.

The local runner's pollers stand in for Lambda's, which call SQS inside AWS. Over
HTTP each of their calls also paid for a TCP connection, a thread and werkzeug's
request parsing (werkzeug's server closes every connection): in a profile of the
demo's drain about a quarter of the embedded server's process went there. With this
transport the request is signed, serialized and parsed by botocore exactly as
before, and answered by the same app chain (the IAM check, the write meter, the
SQS fast path, moto), so every semantic and every refusal is the same; only the
socket is gone. Streaming responses (an S3 object) are read from memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sqs_blueprint.local.meter import WsgiApp


class _Body(io.BytesIO):
    """A response body as botocore reads it: all at once (``stream``) or in parts."""

    def stream(self, amt: int = 2**16, decode_content: bool = True) -> Iterable[bytes]:
        while chunk := self.read(amt):
            yield chunk


class InProcessSession:
    """Stands in for botocore's ``URLLib3Session``: ``send`` answers from ``app``."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        elif isinstance(body, str):
            body = body.encode("utf-8")
        headers = {
            name: value.decode("utf-8") if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        environ = EnvironBuilder(
            path=url.path or "/",
            query_string=url.query,
            method=request.method,
            headers=headers,
            data=body or b"",
            base_url=f"{url.scheme}://{url.netloc}",
        ).get_environ()
        # buffered: werkzeug reads the whole answer and closes the app's iterable
        chunks, status, response_headers = run_wsgi_app(self._app, environ, buffered=True)
        content = b"".join(chunks)
        return AWSResponse(
            request.url, int(status.split(" ", 1)[0]), dict(response_headers), _Body(content)
        )

    def close(self) -> None:
        """Nothing to release: no connection was opened."""


def in_process(client: Any, app: WsgiApp) -> Any:
    """``client`` with its requests answered by ``app`` in this process."""
    client._endpoint.http_session = InProcessSession(app)
    return client
