"""Safe decoding of untrusted photo bytes: size and pixel caps, format allow-list, verify, RGB."""

from __future__ import annotations

import io
import logging
import struct

from PIL import Image, ImageCms, ImageFile

from domain.errors import DomainError

log = logging.getLogger(__name__)

# Formats a teacher's phone produces; everything else is refused before any exotic parser
# (EPS would run Ghostscript, for one) gets to see the bytes.
BASE_FORMATS = ("JPEG", "PNG", "WEBP")
# Accepted only when a plugin for them is registered in this process (e.g. pillow-heif).
OPTIONAL_FORMATS = ("HEIF",)

# Errors Pillow raises for damaged input; anything else is a bug and should propagate.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)

# Signatures of images we recognise but do not accept, so the user hears "unsupported format"
# rather than "not an image".
_OTHER_IMAGE_MAGIC = (b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"8BPS", b"\x00\x00\x01\x00")
_ISO_BMFF_IMAGE_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")


class PhotoRejected(DomainError):
    """The bytes cannot be accepted as a photo; `reason` is a short machine code for the catalog."""

    TOO_LARGE = "too_large"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TOO_MANY_PIXELS = "too_many_pixels"
    CORRUPT = "corrupt"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def accepted_formats() -> tuple[str, ...]:
    """Pillow format ids accepted now: JPEG, PNG, WebP, plus HEIF if a plugin registered it."""
    Image.init()
    return BASE_FORMATS + tuple(f for f in OPTIONAL_FORMATS if f in Image.OPEN)


def media_type_of(image: Image.Image) -> str:
    """The MIME type of the decoded file; MPO (JPEG with extra frames, common on phones) is JPEG."""
    if image.format == "MPO":
        return "image/jpeg"
    return Image.MIME.get(image.format or "", "application/octet-stream")


def _sniff_rejection(data: bytes) -> str:
    """Why Pillow could not identify the bytes: damaged accepted format, other image, or no image."""
    head = data[:16]
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return PhotoRejected.CORRUPT
    if head.startswith(_OTHER_IMAGE_MAGIC) or (head[4:8] == b"ftyp" and head[8:12] in _ISO_BMFF_IMAGE_BRANDS):
        return PhotoRejected.UNSUPPORTED_FORMAT
    return PhotoRejected.NOT_AN_IMAGE


def _open(data: bytes, formats: tuple[str, ...]) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except Image.UnidentifiedImageError:
        raise PhotoRejected(_sniff_rejection(data)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (2x MAX_IMAGE_PIXELS) fires inside open(); the warning is caught too
        # in case a test runner or caller turned warnings into errors.
        raise PhotoRejected(PhotoRejected.TOO_MANY_PIXELS, str(exc)) from None
    except _DECODE_ERRORS as exc:
        raise PhotoRejected(PhotoRejected.CORRUPT, str(exc)) from None


def open_verified(data: bytes, *, max_bytes: int, pixel_cap: int) -> Image.Image:
    """Checks size, format, pixel count and integrity; returns the fully loaded image."""
    if len(data) > max_bytes:
        raise PhotoRejected(PhotoRejected.TOO_LARGE, f"{len(data)} bytes > {max_bytes}")
    if not data:
        raise PhotoRejected(PhotoRejected.NOT_AN_IMAGE, "empty")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone flipped Pillow's global; truncated evidence would then be silently grey-filled.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    formats = accepted_formats()
    with _open(data, formats) as probe:
        # open() parsed only the header: check the pixel count before anything is decoded.
        width, height = probe.size
        if width <= 0 or height <= 0:
            raise PhotoRejected(PhotoRejected.CORRUPT, "zero-sized image")
        if width * height > pixel_cap:
            raise PhotoRejected(PhotoRejected.TOO_MANY_PIXELS, f"{width}x{height} > {pixel_cap} pixels")
        try:
            probe.verify()
        except _DECODE_ERRORS as exc:
            raise PhotoRejected(PhotoRejected.CORRUPT, str(exc)) from None
    # verify() leaves the image unusable, so decode from a fresh open.
    image = _open(data, formats)
    try:
        image.load()
    except _DECODE_ERRORS as exc:
        image.close()
        raise PhotoRejected(PhotoRejected.CORRUPT, str(exc)) from None
    return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """Applies an embedded ICC profile so colours survive dropping the profile on save."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.info("ignoring unusable ICC profile: %s", exc)
        return image
    return converted if converted is not None else image


def to_rgb(image: Image.Image) -> Image.Image:
    """An RGB image (`image` itself if already RGB): alpha flattened on white, 16-bit grey scaled."""
    image = _to_srgb(image)
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # A plain convert() clips 16-bit values to 255, turning the photo white.
        return image.convert("I").point(lambda v: v * (1 / 257)).convert("L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
