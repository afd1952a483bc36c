"""The one HTTP client every pin target talks through: retries with backoff, one clear auth error.

Retried: dropped connections, timeouts, 429 and 5xx (Retry-After is honoured), each with a fresh
copy of the request body. Not retried: a 5xx that is the service's own answer (Kubo reports every
RPC error as a 500 with a JSON body: `is_answer` tells those apart), and other 4xx. 401 and 403
become one error that says which credential to check. Credentials live in headers this client
never prints.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from pipeline.errors import ModelprepError
from pipeline.progress import ByteProgress, log
from pipeline.settings import Reader, setting
from pipeline.urls import url_problem

Body = Callable[[], Any]  # makes the body anew for each attempt (a stream can be read only once)


@dataclass(frozen=True)
class RetrySpec:
    """params.yaml `pin.retry`: how every request retries 429, 5xx, timeouts and dropped connections."""

    attempts: int  # tries in all
    backoff_s: float = setting(low=0)  # first wait; doubles after each failed try
    max_backoff_s: float = setting(low=0)
    timeout_s: float = setting(above=0)  # connect and per-read timeout of one try
    # A whole answer's deadline: after timeout_s, its average rate must stay above this (a server
    # trickling a byte a second never trips the per-read timeout).
    min_rate_kib_s: float = setting(above=0, default=16.0)


def read_url(r: Reader, data: dict[str, Any], key: str, where: str) -> str:
    """An http(s) URL from params.yaml (empty: not set), which must never hold credentials (they come from
    the environment)."""
    value = r.get(data, key, str, where)
    problem = value and url_problem(value)
    if problem:
        raise r.error(f"'{where}.{key}' {problem}")
    return value


def backoff(retry: RetrySpec, attempt: int, retry_after: str | None) -> float:
    """Seconds before try `attempt + 2`: doubling from `backoff_s`, at least what Retry-After asks, capped."""
    wait = min(retry.backoff_s * 2 ** attempt, retry.max_backoff_s)
    if retry_after and retry_after.strip().isdigit():
        wait = max(wait, min(float(retry_after), retry.max_backoff_s))
    return wait


class HttpClient:
    def __init__(self, base_url: str, retry: RetrySpec, stage: str, credential_hint: str,
                 headers: dict[str, str] | None = None, is_answer: Callable[[requests.Response], bool] | None = None):
        self.base_url = base_url.rstrip("/")
        self.retry, self.stage, self.credential_hint = retry, stage, credential_hint
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.is_answer = is_answer or (lambda response: False)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                body: Body | None = None, headers: dict[str, str] | None = None, stream: bool = False,
                accept: tuple[int, ...] = (200,)) -> requests.Response:
        """The answer to one request, retried until it is one of `accept` or a final error.

        A status outside `accept` that is not retried raises ModelprepError with the service's reason;
        with `is_answer`, such a response is returned to the caller instead.
        """
        url = self.url(path)
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = self.session.request(method, url, params=params, json=json,
                                                data=body() if body else None, headers=headers, stream=True,
                                                timeout=self.retry.timeout_s)
                if not stream or response.status_code not in accept:
                    self._read_paced(response)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
                if last:
                    raise ModelprepError(url, f"no answer after {self.retry.attempts} tries: "
                                              f"{type(err).__name__}") from None
                self._wait(url, attempt, type(err).__name__, None)
                continue
            if response.status_code in accept:
                return response
            if response.status_code in (401, 403):
                raise ModelprepError(url, f"authentication failed (HTTP {response.status_code}); "
                                          f"check {self.credential_hint}")
            if self.is_answer(response):
                return response
            transient = response.status_code == 429 or response.status_code >= 500
            if not transient or last:
                tries = f" after {self.retry.attempts} tries" if transient else ""
                raise ModelprepError(url, f"HTTP {response.status_code}{tries}: {reason(response)}")
            self._wait(url, attempt, f"HTTP {response.status_code}", response.headers.get("Retry-After"))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _read_paced(self, response: requests.Response) -> None:
        """Read the whole answer within its deadline (see `chunks`), as requests would have read it."""
        body = bytearray()
        for chunk in self._paced(response):
            body += chunk
        response._content = bytes(body)  # requests' cache of a read body, what .content/.text/.json() use

    def _paced(self, response: requests.Response) -> Iterator[bytes]:
        started, received = time.monotonic(), 0
        rate = self.retry.min_rate_kib_s * 1024
        while True:
            try:  # what one read brings (iter_content waits for a whole chunk, however slowly it comes)
                chunk = response.raw.read1(1 << 16, decode_content=True)
            except ReadTimeoutError as err:
                raise requests.Timeout(str(err)) from None
            except ProtocolError as err:
                raise requests.exceptions.ChunkedEncodingError(str(err)) from None
            if not chunk:
                return
            received += len(chunk)
            if time.monotonic() - started > self.retry.timeout_s + received / rate:
                response.close()
                raise requests.Timeout(f"answer slower than {self.retry.min_rate_kib_s:g} KiB/s after "
                                       f"{self.retry.timeout_s:g} s ({received} bytes)")
            yield chunk

    def chunks(self, response: requests.Response) -> Iterator[bytes]:
        """The body of a streamed answer, held to the same pace; a connection dropped midway or a body
        slower than `min_rate_kib_s` is an error, never a short file or a read that never ends."""
        try:
            yield from self._paced(response)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout) as err:
            why = str(err) if isinstance(err, requests.Timeout) else f"connection dropped ({type(err).__name__})"
            raise ModelprepError(response.url, f"reading the answer failed: {why}") from None

    def _wait(self, url: str, attempt: int, why: str, retry_after: str | None) -> None:
        wait = backoff(self.retry, attempt, retry_after)
        log(self.stage, f"{url}: {why}; retry {attempt + 1} of {self.retry.attempts - 1} in {wait:.1f} s")
        time.sleep(wait)


def reason(response: requests.Response) -> str:
    """The service's own words for an error, in one line, at most 300 characters."""
    try:
        data = response.json()
    except ValueError:
        text = response.text.strip()
    else:
        error = data.get("error", data) if isinstance(data, dict) else data
        words = [str(error[k]) for k in ("reason", "details", "Message", "message", "msg")
                 if isinstance(error, dict) and error.get(k)]
        text = " ".join(words) if words else json.dumps(error)
    line = text.splitlines()[0] if text else "(no body)"
    return line[:300]


def json_answer(response: requests.Response, shape: type = dict) -> Any:
    """The JSON body of an answer the caller acts on, of the shape it expects; anything else (a proxy's
    HTML page with status 200, another API's JSON) is one error naming the endpoint and what came back."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, shape):
        raise ModelprepError(response.url, f"answered HTTP {response.status_code} with {came_back(response)}, "
                                           f"not the JSON {shape.__name__} this API answers")
    return data


def came_back(response: requests.Response) -> str:
    """What a response holds, for an error line: its content type and first bytes."""
    kind = response.headers.get("Content-Type") or "no content type"
    return f"{kind} {response.content[:60]!r}"


class MultipartFile:
    """One file as a multipart/form-data body, streamed from disk with a known length, so it is sent
    with Content-Length (as curl does) and never held in memory. Each iteration reads the file anew,
    so a retry sends the same body again."""

    def __init__(self, path: Path, content_type: str, progress: ByteProgress):
        self.path, self.progress = path, progress
        self.boundary = f"modelprep-{secrets.token_hex(12)}"
        self.head = (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                     f"filename=\"{path.name}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.path.stat().st_size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        self.progress.done = 0
        yield self.head
        with open(self.path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                self.progress.advance(len(chunk))
                yield chunk
        yield self.tail
