"""Links: fetch a page, PDF or Word file by URL and read it as a document.

The server fetches what a client names, so it must not become a way into the network it
runs on: every hop (the URL and each redirect) is resolved first, and refused when any
address is loopback, private, link-local (the cloud metadata address 169.254.169.254
among them), shared, multicast or reserved, unless its host is one the operator allowed.
The connection then goes to the address that was checked (the Host header and TLS name
stay the host's), so a DNS answer that changes between the check and the connection
cannot lead elsewhere. Redirects are followed by hand, a few at most; the body is read
up to a size limit; the content type must be one citeqa reads.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, replace
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from index.documents import Document
from index.errors import BadDocumentError
from index.read.formats import (
    DOCX_TYPE,
    PDF_TYPE,
    decode_text,
    docx_document,
    html_document,
    pdf_document,
    text_document,
)
from index.read.html import decode_html
from index.validation import url_problem

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_KINDS = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    PDF_TYPE: "pdf",
    DOCX_TYPE: "docx",
    "text/plain": "text",
    "text/markdown": "markdown",
}


@dataclass(frozen=True)
class FetchPolicy:
    """How far a fetch may go. ``allow_hosts``: host names (or addresses) fetched even
    though they resolve to private or loopback addresses, e.g. an intranet wiki."""

    allow_hosts: frozenset[str] = frozenset()
    max_bytes: int = 10_000_000
    timeout: float = 15.0
    max_redirects: int = 5
    user_agent: str = "citeqa/0.1 (+https://github.com/citeqa)"


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for kind, hit in (
        ("loopback", address.is_loopback),
        ("link-local (the cloud metadata address among them)", address.is_link_local),
        ("private", address.is_private),
        ("shared (carrier-grade NAT)", address in _SHARED),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved or address.is_unspecified),
    ):
        if hit:
            return kind
    return None


def check_host(url: str, policy: FetchPolicy) -> tuple[str, str]:
    """(host, the address to connect to); BadDocumentError naming why it is refused."""
    if problem := url_problem(url):
        raise BadDocumentError(f"cannot fetch {url!r}: the URL {problem}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BadDocumentError(
            f"cannot fetch {url}: the host {host!r} is not found ({exc})"
        ) from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if host.casefold() not in policy.allow_hosts:
        for address in addresses:
            if kind := _refused(address):
                raise BadDocumentError(
                    f"cannot fetch {url}: {host} resolves to {address}, a {kind} address, "
                    "and this server does not fetch into its own network; an operator can "
                    f"allow the host with CITEQA_FETCH_ALLOW_HOSTS={host}"
                )
    return host, str(addresses[0])


def _pinned(url: str, address: str) -> tuple[str, dict[str, str]]:
    """The URL with its host replaced by the checked address, and the Host header."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host}


def fetch(url: str, policy: FetchPolicy, doc_id: str | None = None) -> Document:
    """The document at ``url`` (its id: ``doc_id``, else the URL as given)."""
    with httpx.Client(timeout=policy.timeout, follow_redirects=False) as client:
        current = url
        for _ in range(policy.max_redirects + 1):
            host, address = check_host(current, policy)
            target, headers = _pinned(current, address)
            headers["User-Agent"] = policy.user_agent
            headers["Accept"] = ", ".join(_KINDS) + ";q=0.9, */*;q=0.1"
            request = client.build_request("GET", target, headers=headers,
                                           extensions={"sni_hostname": host})  # fmt: skip
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise BadDocumentError(f"cannot fetch {current}: {exc}") from None
            try:
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                return _document(response, current, url, doc_id or url, policy)
            finally:
                response.close()
    raise BadDocumentError(
        f"cannot fetch {url}: more than {policy.max_redirects} redirects; give the final URL"
    )


def _document(
    response: httpx.Response, final: str, asked: str, doc_id: str, policy: FetchPolicy
) -> Document:
    if response.status_code != 200:
        raise BadDocumentError(f"cannot fetch {asked}: the server answered {response.status_code}")
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = _KINDS.get(media)
    if kind is None:
        raise BadDocumentError(
            f"cannot read {asked}: its content type is {media or 'not given'}; citeqa reads "
            "web pages, PDF, Word, plain text and Markdown"
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise BadDocumentError(_too_big(asked, policy))
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > policy.max_bytes:
            raise BadDocumentError(_too_big(asked, policy))
    data = bytes(body)
    if kind == "html":
        charset = response.charset_encoding
        markup = data.decode(charset, "replace") if charset else decode_html(data)
        return html_document(markup, doc_id, final)
    if kind == "pdf":
        doc = pdf_document(data, doc_id)
    elif kind == "docx":
        doc = docx_document(data, doc_id)
    else:
        doc = text_document(decode_text(data), doc_id)
        if kind == "markdown":
            doc = replace(doc, metadata={**doc.metadata, "format": "markdown"})
    # Not a file path: where it came from is the URL.
    metadata = {key: value for key, value in doc.metadata.items() if key != "path"}
    return replace(doc, url=final, metadata=metadata)


def _too_big(url: str, policy: FetchPolicy) -> str:
    return f"cannot fetch {url}: it is larger than {policy.max_bytes:,} bytes"
