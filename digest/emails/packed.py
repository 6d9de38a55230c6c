"""The digest's bodies in their MIME form, prepared once per run: UTF-8 bytes, HTML pre-cut.

mime.PrebuiltMIME turns an email's text and HTML into bytes: it encodes them (~36,000
characters of HTML, not ASCII because of the template's ★ ▲ · and the preheader's
padding, so a transcoding rather than a copy) and re-cuts the HTML into lines of at most
900 bytes (mime.pack_html: a scan for <pre>, newlines to spaces, some fifty cuts). For a
digest all of that can be done once per run on the shared parts: a PackedTemplate is a
_Template's parts already encoded and, for HTML, flattened (newlines as spaces, as
pack_html does) and cut at spaces, with room left on each line for what is filled in.
Per email the bodies are then one list of bytes and one join.

Room is a byte budget per marker: the cut treats ``@@name@@`` as a word of that many
bytes, so every line stays within the limit as long as each value does (checked per
email; a longer value, say a reason with a 500-byte word, sends that email through the
plain path). Paper blocks are joined to one another with no newline between them, so
each is cut as if EDGE bytes of neighbour stood on either side: its first and last lines
are at most EDGE bytes, and two blocks' meeting line at most twice that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from digest.emails.mime import HTML_LINE_BYTES, MAX_LINE_BYTES, NO_PACK, cut_points, flatten

EDGE = HTML_LINE_BYTES // 2  # bytes of a neighbouring paper block on a block's end lines
# A part ending inside a tag name ("<", "<pr") could make "<pre" with the value after it.
_OPEN_TAG_AT_END = re.compile(rb"<[A-Za-z]{0,8}\Z")


class PackedTemplate:
    """Bytes parts of a rendered template; values go where ``slots`` say (bytes too)."""

    __slots__ = ("longest", "parts", "slots")

    def __init__(self, parts: list[bytes], slots: Sequence[tuple[int, str]], longest: int):
        self.parts = parts
        self.slots = tuple(slots)
        self.longest = longest  # the longest line, with every value at its budget

    def put(self, out: list[bytes], values: Mapping[str, bytes]) -> None:
        """Append the parts and values to ``out`` (one join per email, not per block)."""
        start = len(out)
        out += self.parts
        for i, name in self.slots:
            out[start + i] = values[name]


def _with_budgets(
    parts: Sequence[bytes], slots: Sequence[tuple[int, str]], budgets: Mapping[str, int]
) -> tuple[list[bytes], list[int]]:
    """The parts with each slot as a word of its budget's length, and each part's offset."""
    chunks = list(parts)
    for i, name in slots:
        chunks[i] = b"x" * budgets[name]
    offsets, at = [], 0
    for chunk in chunks:
        offsets.append(at)
        at += len(chunk)
    return chunks, offsets


def pack_html_template(
    parts: Sequence[str],
    slots: Sequence[tuple[int, str]],
    budgets: Mapping[str, int],
    *,
    edge: int = 0,
    document: bool = False,
) -> PackedTemplate | None:
    """The parts flattened and cut as pack_html would cut the filled document, or None
    where that can't be done ahead (<pre>/<textarea>, no space to cut at)."""
    encoded = [part.encode("utf-8") for part in parts]
    ending = b""
    if document:  # pack_html keeps the document's final line break(s)
        last = encoded[-1]
        body = last.rstrip(b"\r\n")
        ending = last[len(body) :].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        encoded[-1] = body
    slot_at = {i for i, _ in slots}
    flat = [part if i in slot_at else flatten(part) for i, part in enumerate(encoded)]
    if any(_OPEN_TAG_AT_END.search(flat[i]) for i in range(len(flat)) if i not in slot_at):
        return None
    chunks, offsets = _with_budgets(flat, slots, budgets)
    pad = b"x" * edge
    whole = pad + b"".join(chunks) + pad
    if NO_PACK.search(whole):
        return None
    cuts = cut_points(whole, HTML_LINE_BYTES)
    if cuts is None:
        return None
    starts = [0, *(cut + 1 for cut in cuts)]
    ends = [*cuts, len(whole)]
    if edge and (ends[0] - edge > edge or len(whole) - starts[-1] - edge > edge):
        return None  # an end line longer than EDGE: neighbouring blocks could overflow
    buffer = bytearray(b"".join(chunks))
    for cut in cuts:
        buffer[cut - edge] = ord("\n")  # a space in a fixed part (values have none)
    out = [
        part if i in slot_at else bytes(buffer[offsets[i] : offsets[i] + len(part)])
        for i, part in enumerate(flat)
    ]
    out[-1] += ending
    longest = max(end - start for start, end in zip(starts, ends, strict=True))
    return PackedTemplate(out, slots, longest)


def pack_text_template(
    parts: Sequence[str], slots: Sequence[tuple[int, str]], budgets: Mapping[str, int]
) -> PackedTemplate | None:
    """The parts as UTF-8, or None if a line could pass 998 bytes with values at budget
    (or a carriage return could meet a value's line feed: _body_lines would merge them)."""
    encoded = [part.encode("utf-8") for part in parts]
    slot_at = {i for i, _ in slots}
    if any(b"\r" in encoded[i] for i in range(len(encoded)) if i not in slot_at):
        return None
    chunks, _ = _with_budgets(encoded, slots, budgets)
    longest = max(map(len, b"".join(chunks).split(b"\n")))
    if longest > MAX_LINE_BYTES:
        return None
    return PackedTemplate(encoded, slots, longest)
