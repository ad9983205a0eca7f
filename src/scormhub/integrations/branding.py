"""Workspace branding: stored per workspace; a logo is fetched once (SSRF-guarded) or uploaded, checked,
and kept as bytes so a PDF never reaches out to the network."""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin
from uuid import UUID

import httpx

from scormhub.domain.branding import ALLOWED_TYPES, MAX_LOGO_BYTES
from scormhub.domain.errors import LogoRefused
from scormhub.domain.model import Branding, Logo, default_branding
from scormhub.integrations.db.tables import BrandingRow

FETCH_TIMEOUT_S = 5.0
MAX_REDIRECTS = 3
FORMAT_TYPES = {fmt: kind for kind, fmt in ALLOWED_TYPES.items()}

Resolver = Callable[[str, int], Awaitable[list[str]]]
LOGO_INSTEAD = " or upload the file instead"


async def resolve_host(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


@dataclass(frozen=True)
class _Target:
    url: httpx.URL  # as given: relative redirects resolve against it
    host: str  # ASCII (IDNA) host name: the Host header, the TLS server name, the certificate's name
    addresses: list[str]  # every address the name resolved to, all public

    def pinned(self, address: str) -> httpx.URL:
        return self.url.copy_with(host=address)


async def _vet(
    url: str, resolve: Resolver, *, noun: str = "logo URL", instead: str = LOGO_INSTEAD
) -> _Target:
    """The SSRF guard: a public https:// URL whose every resolved address is public. `noun` names the
    URL in the messages ("logo URL", "webhook URL"); `instead` is what the person can do otherwise."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, UnicodeError):
        raise LogoRefused(f"The {noun} is not a valid address.") from None
    if parsed.scheme != "https":
        raise LogoRefused(f"The {noun} must start with https://.")
    if not parsed.host:
        raise LogoRefused(f"The {noun} has no host name.")
    if parsed.userinfo:
        raise LogoRefused(f"The {noun} must not contain a user name or password.")
    host = parsed.raw_host.decode("ascii")
    try:
        addresses = await resolve(host, parsed.port or 443)
    except (OSError, UnicodeError):
        raise LogoRefused(f"The host {parsed.host} could not be found. Check the {noun}.") from None
    if not addresses or not all(_public(a) for a in addresses):
        raise LogoRefused(
            f"The {noun} points at a private or local network address; "
            f"use a public https:// address{instead}."
        )
    return _Target(parsed, host, addresses)


vet_public_https = _vet  # the one SSRF guard, shared with webhook delivery (integrations/webhooks.py)


async def fetch_logo(url: str, *, client: httpx.AsyncClient, resolve: Resolver | None = None) -> Logo:
    """Fetch a logo once. Every hop of a redirect is checked again; the body is read up to the limit.

    The connection goes to the address that was checked, never to a second DNS answer: the request is
    sent to the vetted IP, with the name in the Host header and as the TLS server name (SNI), so the
    certificate is still verified for the name. A host that answers a public address to the check and a
    private one to the connection (DNS rebinding) therefore cannot steer the fetch inside.
    """
    resolve = resolve or resolve_host
    current = url.strip()
    for _ in range(MAX_REDIRECTS + 1):
        target = await _vet(current, resolve)
        try:
            async with _pinned_stream(client, target) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise LogoRefused("The logo URL redirects nowhere.")
                    current = urljoin(str(target.url), location)
                    continue
                if response.status_code != 200:
                    raise LogoRefused(f"The logo URL answered {response.status_code}; check the address.")
                kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind not in ALLOWED_TYPES:
                    raise LogoRefused(
                        f"The logo URL serves {kind or 'an unknown type'}; use a PNG, JPEG, GIF or WebP "
                        "image (SVG is not accepted)."
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > MAX_LOGO_BYTES:
                    raise LogoRefused(_too_large())
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_LOGO_BYTES:
                        raise LogoRefused(_too_large())
        except httpx.TimeoutException:
            raise LogoRefused("The logo URL did not answer in time; try again or upload the file.") from None
        except httpx.HTTPError:
            raise LogoRefused("The logo URL could not be reached; check it or upload the file.") from None
        return check_image(bytes(body))
    raise LogoRefused("The logo URL redirects too many times.")


@contextlib.asynccontextmanager
async def _pinned_stream(client: httpx.AsyncClient, target: _Target) -> AsyncIterator[httpx.Response]:
    """The GET, sent to the first vetted address that accepts a connection."""
    headers = {"Host": target.url.netloc.decode("ascii")}
    for number, address in enumerate(target.addresses, start=1):
        request = client.build_request(
            "GET", target.pinned(address), headers=headers, extensions={"sni_hostname": target.host}
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError:
            if number == len(target.addresses):
                raise
            continue
        try:
            yield response
        finally:
            await response.aclose()
        return


def _too_large() -> str:
    return f"The logo is larger than {MAX_LOGO_BYTES // 1024} KB; use a smaller image."


def check_image(content: bytes) -> Logo:
    """The type comes from the bytes (Pillow), never from the name or the declared type."""
    # Imported here: Pillow costs the server ~7 MB of memory, and only a logo upload needs it.
    from PIL import Image, UnidentifiedImageError

    if len(content) > MAX_LOGO_BYTES:
        raise LogoRefused(_too_large())
    if not content:
        raise LogoRefused("The logo file is empty.")
    try:
        with Image.open(io.BytesIO(content)) as image:
            fmt = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise LogoRefused("That file is not a PNG, JPEG, GIF or WebP image (SVG is not accepted).") from None
    if fmt not in FORMAT_TYPES:
        raise LogoRefused("Use a PNG, JPEG, GIF or WebP image (SVG is not accepted).")
    return Logo(content=content, content_type=FORMAT_TYPES[fmt])


def build_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(FETCH_TIMEOUT_S),
        headers={"User-Agent": "SCORM Hub logo fetcher"},
        follow_redirects=False,
        trust_env=False,
    )


class HttpLogoSource:
    """Logos from an upload (checked) or a URL (fetched once, SSRF-guarded): the LogoSource port."""

    def check(self, content: bytes) -> Logo:
        return check_image(content)

    async def fetch(self, url: str) -> Logo:
        # A client per fetch: logos are rare, and this one never follows redirects by itself.
        async with build_client() as client:
            return await fetch_logo(url, client=client)


# --- storage ---------------------------------------------------------------------------------------------


async def load_branding(workspace_id: UUID, workspace_name: str) -> Branding:
    row = await BrandingRow.select().where(BrandingRow.workspace_id == workspace_id).first()
    if row is None:
        return default_branding(workspace_name)
    return Branding(
        organization_name=row["organization_name"] or workspace_name,
        primary_color=row["primary_color"],
        logo_bytes=bytes(row["logo"]) if row["logo"] is not None else None,
        logo_content_type=row["logo_content_type"],
        logo_url=row["logo_url"],
    )


async def save_branding(workspace_id: UUID, branding: Branding, now: datetime) -> None:
    values = {
        "organization_name": branding.organization_name,
        "primary_color": branding.primary_color,
        "logo": branding.logo_bytes,
        "logo_content_type": branding.logo_content_type,
        "logo_url": branding.logo_url,
        "updated_at": now,
    }
    await BrandingRow.raw(
        "INSERT INTO branding (workspace_id, organization_name, primary_color, logo, logo_content_type, "
        "logo_url, updated_at) VALUES ({}, {}, {}, {}, {}, {}, {}) ON CONFLICT (workspace_id) DO UPDATE SET "
        "organization_name = EXCLUDED.organization_name, primary_color = EXCLUDED.primary_color, "
        "logo = EXCLUDED.logo, logo_content_type = EXCLUDED.logo_content_type, "
        "logo_url = EXCLUDED.logo_url, updated_at = EXCLUDED.updated_at",
        workspace_id,
        *values.values(),
    )


class PostgresBrandingStore:
    """Branding rows in PostgreSQL: the BrandingStore port."""

    async def load(self, workspace_id: UUID, workspace_name: str) -> Branding:
        return await load_branding(workspace_id, workspace_name)

    async def save(self, workspace_id: UUID, branding: Branding, now: datetime) -> None:
        await save_branding(workspace_id, branding, now)
