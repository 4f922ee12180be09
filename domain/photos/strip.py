"""The original photo as stored: the pixels as received, without location or camera metadata.

A phone's EXIF carries the GPS position of the child's home, the camera's serial number and the
owner's name (DOMAIN.md §8: "Strip EXIF/GPS data"). The coordinates worth keeping as evidence are
read first (domain.photos.exif) into the database; the stored copy keeps none of it.

JPEG, which is what phones send, is cut losslessly: the image data stays byte for byte, the metadata
segments go, and the orientation survives as the only EXIF tag so the photo still shows upright.
PNG and WebP lose their metadata chunks the same way; one that needs turning (or a HEIF) is
re-encoded as PNG with the orientation applied (lossless, no metadata).
The result depends only on the input, so a photo sent twice is stored once.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_ORIENTATION = 0x0112
# Segments kept: APP0 (JFIF), APP2 only as an ICC profile (colours), APP14 "Adobe" (how to decode
# CMYK/YCCK colour); every other APPn (EXIF, XMP, MPF, IPTC, maker data) and comments (COM) go.
_KEPT_APP2 = b"ICC_PROFILE\x00"
_KEPT_APP14 = b"Adobe"


class NotStrippable(ValueError):
    """The JPEG's structure could not be walked; the caller re-encodes instead."""


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orientation_segment(orientation: int) -> bytes:
    """An APP1 EXIF segment holding nothing but the orientation."""
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    body = b"Exif\x00\x00" + exif.tobytes()
    return b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body


def _keep(marker: int, body: bytes) -> bool:
    if marker == 0xE0:
        return True
    if marker == 0xE2:
        return body.startswith(_KEPT_APP2)
    if marker == 0xEE:
        return body.startswith(_KEPT_APP14)
    return not (0xE1 <= marker <= 0xEF or marker == 0xFE)


def _end_of_first_image(data: bytes, start: int) -> int:
    """The end of the first image's EOI marker: later frames (MPO) and trailers carry metadata too.
    In entropy-coded data 0xFF is followed by 0x00 or a restart marker, so the first FF D9 is the end."""
    end = data.find(b"\xff\xd9", start)
    if end < 0:
        raise NotStrippable("no end of image")
    return end + 2


def strip_jpeg(data: bytes, orientation: int = 1) -> bytes:
    """The JPEG without metadata segments, trailers or extra frames; the orientation kept if not 1."""
    if data[:2] != b"\xff\xd8":
        raise NotStrippable("not a JPEG")
    out = [b"\xff\xd8"]
    if orientation != 1:
        out.append(_orientation_segment(orientation))
    pos = 2
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise NotStrippable(f"bad marker at {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == _SOS:
            out.append(data[pos : _end_of_first_image(data, pos + 2)])
            return b"".join(out)
        if marker in (_SOI, _EOI) or 0xD0 <= marker <= 0xD7:
            raise NotStrippable(f"unexpected marker {marker:#x}")
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise NotStrippable(f"segment overruns the file at {pos}")
        segment = data[pos : pos + 2 + length]
        if _keep(marker, segment[4:]):
            out.append(segment)
        pos += 2 + length


# PNG chunks that carry metadata: EXIF, text (XMP lives in iTXt) and the modification time.
_PNG_DROPPED = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WEBP_DROPPED = {b"EXIF", b"XMP "}
_VP8X_EXIF_XMP = 0x08 | 0x04


def strip_png(data: bytes) -> bytes:
    """The PNG without EXIF, text or time chunks; everything else byte for byte."""
    if not data.startswith(_PNG_SIGNATURE):
        raise NotStrippable("not a PNG")
    out, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise NotStrippable("chunk overruns the file")
        if kind not in _PNG_DROPPED:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            return b"".join(out)
    raise NotStrippable("no IEND chunk")


def strip_webp(data: bytes) -> bytes:
    """The WebP without EXIF and XMP chunks (and their flags in the VP8X header)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise NotStrippable("not a WebP")
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = pos + 8 + size + (size & 1)
        if end > len(data):
            raise NotStrippable("chunk overruns the file")
        chunk = data[pos:end]
        if kind == b"VP8X" and size >= 1:
            chunk = chunk[:8] + bytes([chunk[8] & ~_VP8X_EXIF_XMP & 0xFF]) + chunk[9:]
        if kind not in _WEBP_DROPPED:
            chunks.append(chunk)
        pos = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def _reencode_png(image: Image.Image) -> bytes:
    upright = ImageOps.exif_transpose(image)
    if upright.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    buffer = io.BytesIO()
    upright.save(buffer, "PNG", icc_profile=image.info.get("icc_profile"))
    return buffer.getvalue()


def stored_original(data: bytes, image: Image.Image) -> tuple[bytes, str]:
    """The bytes to keep as the original (and their media type), given the verified, loaded `image`
    decoded from `data`."""
    orientation = _orientation(image)
    try:
        if image.format in ("JPEG", "MPO"):
            stripped, media_type = strip_jpeg(data, orientation), "image/jpeg"
        elif image.format == "PNG" and orientation == 1:
            stripped, media_type = strip_png(data), "image/png"
        elif image.format == "WEBP" and orientation == 1:
            stripped, media_type = strip_webp(data), "image/webp"
        else:
            return _reencode_png(image), "image/png"
        with Image.open(io.BytesIO(stripped)) as check:
            check.load()
        return stripped, media_type
    except (NotStrippable, OSError, SyntaxError, ValueError, EOFError):
        # An odd file Pillow could still decode: re-encoding loses nothing worth keeping.
        return _reencode_png(image), "image/png"


def location_tags(data: bytes) -> dict[int, object]:
    """The GPS tags of an image file (empty when there are none); used to check stored copies."""
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(0x8825))
