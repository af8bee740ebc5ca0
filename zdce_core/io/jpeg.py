"""Whether a JPEG's compressed data can fill the picture its header declares.

libjpeg treats damaged entropy-coded data (a file cut short and closed with an
EOI marker, random bytes inside a scan) as a warning: it fills what is missing
with grey and carries on. Pillow discards those warnings (it has no way to
report them), so such a file would decode "successfully" into a half-grey
photo. :func:`damage` finds these files in two passes:

1. The markers alone, before anything is allocated: every component must
   have its scans (all 64 coefficients, refined to the last bit, for a
   progressive file), and each Huffman-coded scan must hold at least the
   bits its blocks need (two per block for a sequential scan, one for a
   progressive DC scan: the shortest Huffman code is one bit). A 9000x9000
   header over a few hundred bytes of data fails here.
2. A strict decode of the whole entropy-coded data by libjpeg-turbo
   (simplejpeg), scaled down 8 times so that it costs little memory, in
   which libjpeg's warnings of damaged data ("Corrupt JPEG data", "Premature
   end of JPEG file", ...) are errors; its other warnings (an unknown JFIF
   revision, say) are not.
"""

from __future__ import annotations

import math

_SOF_HUFFMAN = {0xC0, 0xC1, 0xC2}  # baseline, extended sequential, progressive
_SOF_OTHER = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
_SOS, _EOI, _DNL = 0xDA, 0xD9, 0xDC
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RST0..7 carry no length
_IN_SCAN = {0x00, 0xFF, *range(0xD0, 0xD8)}  # stuffed byte, fill byte, restart markers
# libjpeg's warnings that mean the compressed data is damaged: it goes on and fills the rest with grey.
_DAMAGE = ("Corrupt JPEG data", "Premature end of JPEG file", "Inconsistent progression sequence", "Invalid SOS parameters")
_COLOUR_SPACES = {1: "GRAY", 3: "RGB", 4: "CMYK"}


class _Frame:
    def __init__(self, marker: int, body: bytes) -> None:
        self.marker = marker
        self.height, self.width = int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big")
        count = body[5]
        if len(body) < 6 + 3 * count:
            raise ValueError("frame header cut short")
        self.sampling = {body[6 + 3 * i]: (body[7 + 3 * i] >> 4, body[7 + 3 * i] & 15) for i in range(count)}

    def blocks(self, component: int) -> int:
        """8x8 blocks of one component (without the padding of interleaved scans: a lower bound)."""
        h, v = self.sampling[component]
        hmax = max(s[0] for s in self.sampling.values()) or 1
        vmax = max(s[1] for s in self.sampling.values()) or 1
        return math.ceil(math.ceil(self.width * h / hmax) / 8) * math.ceil(math.ceil(self.height * v / vmax) / 8)


def _next_marker(data: bytes, i: int) -> int:
    """Where the entropy-coded data from ``i`` ends: the next marker other than a stuffed 0xFF00 or a restart."""
    while (i := data.find(b"\xff", i)) != -1 and i + 1 < len(data):
        if data[i + 1] not in _IN_SCAN:
            return i
        i += 1
    return len(data)


def _scans(data: bytes) -> tuple[_Frame | None, list[tuple[tuple[int, ...], int, int, int, int]]]:
    """The frame header and every scan: (components, Ss, Se, Al, bytes of entropy-coded data)."""
    frame, scans, i = None, [], 2
    while i + 1 < len(data):
        if data[i] != 0xFF:
            # Stray bytes between segments (libjpeg's own warning covers them, in pass 2): skip to the next 0xFF.
            i = data.find(b"\xff", i)
            if i == -1:
                break
            continue
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1  # fill byte
            continue
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        body = data[i + 4 : i + 2 + length]
        i += 2 + length
        if marker in _SOF_HUFFMAN or marker in _SOF_OTHER:
            frame = _Frame(marker, body)
        elif marker == _DNL and frame is not None:
            frame.height = int.from_bytes(body[:2], "big")
        elif marker == _SOS:
            count = body[0]
            components = tuple(body[1 + 2 * k] for k in range(count))
            ss, se, approx = body[1 + 2 * count], body[2 + 2 * count], body[3 + 2 * count]
            start = i
            i = _next_marker(data, i)
            scans.append((components, ss, se, approx & 15, i - start))
    return frame, scans


def _structure(frame: _Frame, scans: list) -> str | None:
    progressive = frame.marker in _PROGRESSIVE
    for components, ss, _se, _al, size in scans:
        if frame.marker not in _SOF_HUFFMAN or any(c not in frame.sampling for c in components):
            continue  # arithmetic coding packs flat blocks into almost nothing: no lower bound
        bits = 0 if progressive and ss > 0 else (1 if progressive else 2)
        needed = math.ceil(bits * sum(frame.blocks(c) for c in components) / 8)
        if size < needed:
            return (
                f"damaged JPEG: its {frame.width}x{frame.height} picture needs at least {needed:,} bytes of "
                f"compressed data in a scan that holds {size:,} (the file is cut short or corrupt)"
            )
    for component in frame.sampling:
        if progressive:
            # Each coefficient's last scan refines it to bit 0 (Al = 0).
            done = set().union(*(range(ss, se + 1) for comps, ss, se, al, _ in scans if component in comps and al == 0))
            complete = done >= set(range(64))
        else:
            complete = any(component in comps for comps, *_ in scans)
        if not complete:
            return (
                f"damaged JPEG: scans for component {component} are missing "
                "(the file was cut short and closed early; the picture would be partly grey)"
            )
    return None


def damage(data: bytes) -> str | None:
    """Why ``data`` (a whole JPEG file) cannot decode into its full picture, or ``None``.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from PIL import Image
    >>> out = io.BytesIO()
    >>> noise = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    >>> Image.fromarray(noise).save(out, format="JPEG")
    >>> whole = out.getvalue()
    >>> damage(whole) is None
    True
    >>> damage(whole[: len(whole) // 2] + b"\\xff\\xd9")
    'damaged JPEG data (libjpeg: Corrupt JPEG data: premature end of data segment)'
    """
    try:
        frame, scans = _scans(data)
    except (IndexError, ValueError):
        return None  # a header too broken to read: the decoder names it
    if frame is None or frame.height == 0 or frame.width == 0:
        return None
    problem = _structure(frame, scans)
    if problem or len(frame.sampling) not in _COLOUR_SPACES:
        return problem
    import simplejpeg

    # min_height/min_width 1: libjpeg's smallest scale (1/8), which still decodes every scan.
    options = {"colorspace": _COLOUR_SPACES[len(frame.sampling)], "min_height": 1, "min_width": 1}
    try:
        simplejpeg.decode_jpeg(data, strict=True, **options)
    except ValueError as exc:
        reason = str(exc).rstrip(".")
        if reason.startswith(_DAMAGE):
            return f"damaged JPEG data (libjpeg: {reason})"
        # Any other warning (an unknown JFIF revision, say) is harmless to the pixels, and what
        # libjpeg cannot decode at all Pillow refuses with its own reason.
    return None
