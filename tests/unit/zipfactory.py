"""Build SCORM zips in memory, byte by byte, including the hostile ones `zipfile` refuses to write."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
IMSSS = "http://www.imsglobal.org/xsd/imsss"

SCHEMAVERSIONS = {"1.2": "1.2", "2nd": "CAM 1.3", "3rd": "2004 3rd Edition", "4th": "2004 4th Edition"}
UTF8_FLAG = 0x800
STORED, DEFLATED = 0, 8
DOS_DATE = (2020 - 1980) << 9 | 1 << 5 | 1  # 2020-01-01


@dataclass(frozen=True)
class RawEntry:
    """One entry as it will appear on disk; every field a hostile zip might fake is settable.

    A `str` name is written as UTF-8 (flagged when non-ASCII); `bytes` are written as given, unflagged.
    `method` other than stored/deflate writes `data` as is under that method number.
    `declared_size` replaces the real uncompressed size in both headers; `crc` replaces the real CRC.
    `same_data_as` makes this central-directory record point at an earlier entry's local header.
    """

    name: str | bytes
    data: bytes = b""
    method: int = DEFLATED
    flags: int = 0
    unix_mode: int | None = None
    declared_size: int | None = None
    crc: int | None = None
    same_data_as: int | None = None


def build_zip(entries: Iterable[RawEntry]) -> bytes:
    body = bytearray()
    central = bytearray()
    offsets: list[int] = []
    for entry in entries:
        name, flags = _encoded_name(entry)
        packed = zlib.compressobj(9, zlib.DEFLATED, -15) if entry.method == DEFLATED else None
        payload = packed.compress(entry.data) + packed.flush() if packed else entry.data
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        size = len(entry.data) if entry.declared_size is None else entry.declared_size
        fields = (20, flags, entry.method, 0, DOS_DATE, crc, len(payload), size, len(name))
        if entry.same_data_as is None:
            offsets.append(len(body))
            body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields, 0) + name + payload
        else:
            offsets.append(offsets[entry.same_data_as])
        attributes = (entry.unix_mode or 0) << 16
        creator = (3 << 8 | 20) if entry.unix_mode is not None else 20  # 3 = Unix
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", creator, *fields, 0, 0, 0, 0, attributes, offsets[-1]
        )
        central += name
    count = len(offsets)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), len(body), 0)
    return bytes(body + central + end)


def _encoded_name(entry: RawEntry) -> tuple[bytes, int]:
    if isinstance(entry.name, bytes):
        return entry.name, entry.flags
    utf8 = 0 if entry.name.isascii() else UTF8_FLAG
    return entry.name.encode("utf-8"), entry.flags | utf8


def package(
    manifest_xml: str | bytes | None,
    files: Mapping[str, bytes] | None = None,
    *,
    manifest_name: str = "imsmanifest.xml",
    extra: Iterable[RawEntry] = (),
) -> bytes:
    """A zip with the manifest first, then `files` (default: an index.html), then any raw extras."""
    entries: list[RawEntry] = []
    if manifest_xml is not None:
        data = manifest_xml.encode("utf-8") if isinstance(manifest_xml, str) else manifest_xml
        entries.append(RawEntry(manifest_name, data))
    for name, data in (files if files is not None else {"index.html": b"<html>lesson</html>"}).items():
        entries.append(RawEntry(name, data))
    entries.extend(extra)
    return build_zip(entries)


def resource(
    identifier: str = "res1",
    href: str | None = "index.html",
    *,
    kind: str | None = "sco",
    version: str = "1.2",
    files: Iterable[str] = (),
    attributes: str = "",
) -> str:
    type_attribute = "adlcp:scormtype" if version == "1.2" else "adlcp:scormType"
    parts = [f'identifier="{identifier}"', 'type="webcontent"']
    if kind is not None:
        parts.append(f'{type_attribute}="{kind}"')
    if href is not None:
        parts.append(f'href="{href}"')
    if attributes:
        parts.append(attributes)
    listed = "".join(f'<file href="{name}"/>' for name in files)
    return f"<resource {' '.join(parts)}>{listed}</resource>"


def item(
    identifier: str = "item1", ref: str | None = "res1", title: str = "Lesson one", *, inner: str = ""
) -> str:
    reference = f' identifierref="{ref}"' if ref is not None else ""
    return f'<item identifier="{identifier}"{reference}><title>{title}</title>{inner}</item>'


def manifest(
    version: str = "1.2",
    *,
    items: str | None = None,
    resources: str | None = None,
    organizations: str | None = None,
    metadata: str | None = None,
    title: str = "Golf basics",
    root_attributes: str = "",
) -> str:
    """A manifest for `version` ("1.2", "2nd", "3rd" or "4th"); each section can be replaced whole."""
    if version == "1.2":
        namespaces = f'xmlns="{CP12}" xmlns:adlcp="{ADLCP12}"'
    else:
        namespaces = f'xmlns="{CP2004}" xmlns:adlcp="{ADLCP2004}" xmlns:imsss="{IMSSS}"'
    if metadata is None:
        stated = SCHEMAVERSIONS[version]
        metadata = f"<metadata><schema>ADL SCORM</schema><schemaversion>{stated}</schemaversion></metadata>"
    if organizations is None:
        outline = items if items is not None else item()
        organizations = (
            f'<organizations default="org1"><organization identifier="org1"><title>{title}</title>'
            f"{outline}</organization></organizations>"
        )
    if resources is None:
        resources = resource(version=version, files=["index.html"])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<manifest identifier="test.manifest" version="1" {namespaces} {root_attributes}>'
        f"{metadata}{organizations}<resources>{resources}</resources></manifest>"
    )
