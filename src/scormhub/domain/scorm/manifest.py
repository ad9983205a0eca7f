"""imsmanifest.xml as XML: its namespaces and versions, and reading it safely from bytes (rule P3)."""

from __future__ import annotations

import codecs
import re
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring as _defused_fromstring

from scormhub.domain.scorm.findings import Findings, show
from scormhub.domain.scorm.package import Edition, Standard

NS_CP12 = "http://www.imsproject.org/xsd/imscp_rootv1p1p2"
NS_CP2004 = "http://www.imsglobal.org/xsd/imscp_v1p1"
NS_ADLCP12 = "http://www.adlnet.org/xsd/adlcp_rootv1p2"
NS_ADLCP2004 = "http://www.adlnet.org/xsd/adlcp_v1p3"
NS_ADLSEQ = "http://www.adlnet.org/xsd/adlseq_v1p3"
NS_ADLNAV = "http://www.adlnet.org/xsd/adlnav_v1p3"
NS_IMSSS = "http://www.imsglobal.org/xsd/imsss"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
CP_NAMESPACES = frozenset({NS_CP12, NS_CP2004})
ADLCP_NAMESPACES = frozenset({NS_ADLCP12, NS_ADLCP2004})
SCORM2004_ONLY_NAMESPACES = frozenset({NS_ADLCP2004, NS_ADLSEQ, NS_ADLNAV, NS_IMSSS})

# Keys are schemaversion values with whitespace collapsed and case folded (ADL's own set, §1.1).
SCHEMAVERSIONS: dict[str, tuple[Standard, Edition | None]] = {
    "1.2": ("scorm12", None),
    "cam 1.3": ("scorm2004", "2nd"),
    "2004 3rd edition": ("scorm2004", "3rd"),
    "2004 4th edition": ("scorm2004", "4th"),
}

# Moodle's fix-up: an "&" that doesn't start an entity or character reference was meant literally.
_BARE_AMPERSAND = re.compile(r"&(?!(?:[A-Za-z_][\w.-]*|#[0-9]+|#x[0-9A-Fa-f]+);)")
_XML_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def decode_manifest(data: bytes, legacy_codepage: str, findings: Findings) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        declared = _XML_DECLARED_ENCODING.match(data)
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
        if encoding.casefold().startswith("utf-16"):
            encoding = (
                "utf-8"  # the declaration was readable as ASCII, so the file isn't UTF-16 whatever it says
            )
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        findings.warn(
            "P3-manifest-encoding",
            f"imsmanifest.xml isn't valid {encoding} text, so SCORM Hub read it as {legacy_codepage}. "
            "Check that the course and lesson titles look right.",
        )
        return data.decode(legacy_codepage, errors="replace")


def parse_manifest(text: str, findings: Findings) -> Element | None:
    """P3: defusedxml refuses entity declarations (billion laughs, XXE) and never fetches anything."""
    repaired = _BARE_AMPERSAND.sub("&amp;", text)
    if repaired != text:
        findings.warn(
            "P3-bare-ampersand",
            "imsmanifest.xml contains '&' characters that should be written '&amp;'. SCORM Hub read them as "
            "plain '&'; other systems may reject the file.",
        )
    try:
        root: Element = _defused_fromstring(repaired)
    except EntitiesForbidden as exc:
        findings.error("P3-xml-entities", _entities_message(exc.sysid))
    except (DTDForbidden, ExternalReferenceForbidden) as exc:
        findings.error("P3-xml-entities", _entities_message(exc.sysid))
    except ParseError as exc:
        line, column = exc.position
        findings.error(
            "P3-not-xml",
            f"imsmanifest.xml is not well-formed XML (problem at line {line}, column {column + 1}). "
            "Export the course again, or ask its author to fix the manifest.",
        )
    except (DefusedXmlException, ValueError):
        findings.error("P3-not-xml", "imsmanifest.xml could not be read as XML. Export the course again.")
    else:
        return root
    return None


def _entities_message(system_id: str | None) -> str:
    if system_id:
        return (
            f"imsmanifest.xml refers to an outside file ({show(system_id)}). SCORM Hub never loads outside "
            "files from a manifest, because that can leak server files; remove the DOCTYPE/ENTITY lines."
        )
    return (
        "imsmanifest.xml declares XML entities (<!ENTITY …>). SCORM Hub refuses them because they can blow "
        "a small file up to gigabytes; remove the DOCTYPE/ENTITY lines and export again."
    )


def split_tag(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def element_text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""
