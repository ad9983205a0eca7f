"""The text of a PDF our reports write, decoded through each font's ToUnicode map, and the fonts it embeds.

No PDF library reads these back well (borb's own text extraction does not decode its Type0 fonts), so this
reads the simple files borb writes: plain objects, Flate streams, one Tf per font change and one TJ array
per word or space. Text comes out in drawing order: right-to-left words appear reversed, as they are
drawn, and the cells of a table row are separated by one space.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass, field

_OBJECT = re.compile(rb"(\d+) 0 obj\s*")
_LENGTH = re.compile(rb"/Length (\d+)")
_REF = rb"(\d+) 0 R"
_PAIR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
_OPS = re.compile(rb"/(\S+)\s+[\d.]+\s+Tf|\[([^\]]*)\]\s*TJ|<([0-9A-Fa-f]*)>\s*Tj|\bET\b")
_HEX = re.compile(rb"<([0-9A-Fa-f]*)>")


@dataclass
class PdfText:
    pages: list[str] = field(default_factory=list)
    fonts: set[str] = field(default_factory=set)  # BaseFont names of the embedded fonts
    unmapped: int = 0  # glyph codes with no Unicode (would print as boxes or garbage)

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    def has(self, phrase: str) -> bool:
        """The phrase as drawn: letters of Arabic presentation forms count as their base letters."""
        return phrase in unicodedata.normalize("NFKC", self.text)


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    objects: dict[int, tuple[bytes, bytes | None]] = {}
    position = 0
    while (found := _OBJECT.search(pdf, position)) is not None:
        start = found.end()
        end = pdf.index(b"endobj", start)
        stream_at = pdf.find(b"stream", start, end)
        if stream_at == -1:
            objects[int(found.group(1))] = (pdf[start:end], None)
            position = end
            continue
        head = pdf[start:stream_at]
        length = _LENGTH.search(head)
        data_start = stream_at + len(b"stream")
        data_start += 2 if pdf[data_start : data_start + 2] == b"\r\n" else 1
        raw = pdf[data_start : data_start + int(length.group(1))] if length else b""
        objects[int(found.group(1))] = (head, zlib.decompress(raw) if b"/FlateDecode" in head else raw)
        position = pdf.index(b"endobj", data_start + len(raw))
    return objects


def _unicode(hex_text: bytes) -> str:
    if len(hex_text) % 4 == 0:
        return bytes.fromhex(hex_text.decode()).decode("utf-16-be", errors="replace")
    return chr(int(hex_text, 16))  # borb writes code points beyond U+FFFF as 5 hex digits


def _dict_of(objects: dict[int, tuple[bytes, bytes | None]], text: bytes, key: bytes) -> bytes:
    """The dictionary under `key`, inline or by reference."""
    ref = re.search(rb"/" + key + rb"\s+" + _REF, text)
    if ref:
        return objects[int(ref.group(1))][0]
    inline = re.search(rb"/" + key + rb"\s*<<(.*?)>>", text, re.S)
    return inline.group(1) if inline else b""


def _page_order(objects: dict[int, tuple[bytes, bytes | None]]) -> list[int]:
    """Page object numbers in reading order: the page tree from its root, Kids in order."""
    roots = [
        n
        for n, (head, _) in objects.items()
        if re.search(rb"/Type\s*/Pages\b", head) and b"/Parent" not in head
    ]

    def walk(number: int) -> list[int]:
        head = objects[number][0]
        if re.search(rb"/Type\s*/Page\b", head):
            return [number]
        kids = re.search(rb"/Kids\s*\[([^\]]*)\]", head)
        return [page for kid in re.findall(_REF, kids.group(1) if kids else b"") for page in walk(int(kid))]

    return [page for root in roots for page in walk(root)]


def _join(words: list[str]) -> str:
    """borb draws each word and each space on its own; words of two cells get one space between them."""
    out = ""
    for word in words:
        if out and not out[-1].isspace() and not word[:1].isspace():
            out += " "
        out += word
    return out


def read_pdf(pdf: bytes) -> PdfText:
    objects = _objects(pdf)
    result = PdfText()
    for number in _page_order(objects):
        head = objects[number][0]
        fonts: dict[bytes, dict[int, str]] = {}
        for font_name, number in re.findall(
            rb"/(\w+)\s+" + _REF, _dict_of(objects, _dict_of(objects, head, b"Resources"), b"Font")
        ):
            font = objects[int(number)][0]
            base = re.search(rb"/BaseFont\s*/(\S+)", font)
            if base:
                result.fonts.add(base.group(1).decode())
            mapping: dict[int, str] = {}
            to_unicode = re.search(rb"/ToUnicode\s+" + _REF, font)
            if to_unicode:
                cmap = objects[int(to_unicode.group(1))][1] or b""
                for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
                    for source, target in _PAIR.findall(block):
                        mapping[int(source, 16)] = _unicode(target)
            fonts[font_name] = mapping
        contents = re.search(rb"/Contents\s+" + _REF, head)
        stream = objects[int(contents.group(1))][1] or b"" if contents else b""
        words: list[str] = []
        current: dict[int, str] = {}
        for op in _OPS.finditer(stream):
            if op.group(1):
                current = fonts.get(op.group(1), {})
                continue
            if op.group(0) == b"ET":
                continue
            hexes = _HEX.findall(op.group(2)) if op.group(2) is not None else [op.group(3)]
            word = []
            for hex_text in hexes:
                for i in range(0, len(hex_text), 4):
                    code = int(hex_text[i : i + 4], 16)
                    if code not in current:
                        result.unmapped += 1
                    word.append(current.get(code, "\ufffd"))
            words.append("".join(word))
        result.pages.append(_join(words))
    return result
