"""Home-visit photo pipeline: real images made with Pillow, no fixtures on disk."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import resource
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageChops, ImageFile
from PIL.ExifTags import GPS, IFD, Base

from domain.photos import watermark as photo_watermark
from domain.photos.processing import (
    MAX_DOWNLOAD_BYTES,
    PhotoPolicy,
    PhotoRejected,
    ProcessedPhoto,
    WatermarkInfo,
    process_photo,
    process_photo_async,
    resolve_font,
)
from storage.models import Attachment

SHANGHAI = ZoneInfo("Asia/Shanghai")
WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
RED, BLUE = (220, 20, 20), (20, 20, 220)


# --- builders ---------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def camera_exif(
    *,
    orientation: int = 1,
    taken: str | None = "2025:03:14 10:00:00",
    offset: str | None = None,
    gps: tuple[str, tuple[float, float, float], str, tuple[float, float, float]] | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    exif[Base.Orientation] = orientation
    exif[Base.Make] = "AcmePhone"
    exif[Base.Model] = "X-1"
    if taken is not None:
        exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = taken
    if offset is not None:
        exif.get_ifd(IFD.Exif)[Base.OffsetTimeOriginal] = offset
    if gps is not None:
        lat_ref, lat, lon_ref, lon = gps
        info = exif.get_ifd(IFD.GPSInfo)
        info.update({GPS.GPSLatitudeRef: lat_ref, GPS.GPSLatitude: lat})
        info.update({GPS.GPSLongitudeRef: lon_ref, GPS.GPSLongitude: lon})
    return exif


def two_tone(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """Left half red, right half blue, so a rotation is visible in the pixels."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


def camera_jpeg(size: tuple[int, int] = (60, 40), **exif_args: object) -> bytes:
    exif = camera_exif(**exif_args)  # type: ignore[arg-type]
    return encode(two_tone(size), exif=exif, comment=b"shot in Shimen village", quality=95)


def bomb_png(side: int = 20001) -> bytes:
    """A valid 1-bit PNG of side x side pixels that compresses to a few kilobytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row * 1000) for _ in range(side // 1000))
    idat += packer.compress(row * (side % 1000)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def bomb() -> bytes:
    return bomb_png()


@pytest.fixture
def visit() -> WatermarkInfo:
    return WatermarkInfo(
        visit_time=datetime(2025, 3, 14, 15, 30, tzinfo=SHANGHAI),
        village="石门村",
        case_number="C-2025-0042",
        visitor_name="张老师",
        latitude=29.5,
        longitude=110.25,
    )


def rejection(data: bytes, visit: WatermarkInfo, **policy: object) -> str:
    with pytest.raises(PhotoRejected) as caught:
        process_photo(data, visit=visit, policy=PhotoPolicy(**policy))  # type: ignore[arg-type]
    return caught.value.reason


# --- orientation, EXIF time and GPS -----------------------------------------------------------


def test_orientation_6_swaps_width_and_height_and_rotates_pixels(visit: WatermarkInfo) -> None:
    photo = process_photo(camera_jpeg(orientation=6), visit=visit)
    assert (photo.width, photo.height) == (40, 60)
    thumb = Image.open(io.BytesIO(photo.thumbnail_bytes)).convert("RGB")
    # Orientation 6 means "rotate 90° clockwise to view": the red left half ends up on top.
    top, bottom = thumb.getpixel((thumb.width // 2, 2)), thumb.getpixel((thumb.width // 2, thumb.height - 3))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def test_exif_time_is_read_as_local_time_of_the_policy_zone(visit: WatermarkInfo) -> None:
    photo = process_photo(camera_jpeg(taken="2025:03:14 10:00:00"), visit=visit)
    assert photo.exif_taken_at == datetime(2025, 3, 14, 2, 0, tzinfo=UTC)
    assert photo.exif_taken_at is not None and photo.exif_taken_at.utcoffset() == timedelta(hours=8)


def test_exif_offset_time_wins_over_the_policy_zone(visit: WatermarkInfo) -> None:
    photo = process_photo(camera_jpeg(taken="2025:03:14 10:00:00", offset="+02:00"), visit=visit)
    assert photo.exif_taken_at == datetime(2025, 3, 14, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("taken", "mismatch"),
    [
        ("2025:03:14 10:00:00", False),  # same day as the 15:30 visit
        ("2025:03:13 16:00:00", False),  # 23.5 h before: inside the 24 h window
        ("2025:03:12 10:00:00", True),  # two days before: an old photo
        ("2025:03:16 10:00:00", True),  # after the visit
    ],
)
def test_exif_time_far_from_the_visit_is_flagged(visit: WatermarkInfo, taken: str, mismatch: bool) -> None:
    assert process_photo(camera_jpeg(taken=taken), visit=visit).exif_time_mismatch is mismatch


def test_time_window_is_configurable(visit: WatermarkInfo) -> None:
    data = camera_jpeg(taken="2025:03:14 10:00:00")
    photo = process_photo(data, visit=visit, policy=PhotoPolicy(time_window=timedelta(hours=1)))
    assert photo.exif_time_mismatch is True


def test_photo_without_exif_has_no_time_and_no_mismatch(visit: WatermarkInfo) -> None:
    photo = process_photo(encode(two_tone()), visit=visit)
    assert (photo.exif_taken_at, photo.exif_latitude, photo.exif_longitude) == (None, None, None)
    assert photo.exif_time_mismatch is False


@pytest.mark.parametrize(("taken"), ["0000:00:00 00:00:00", "    :  :     :  :  ", "garbage"])
def test_unusable_exif_time_counts_as_absent(visit: WatermarkInfo, taken: str) -> None:
    assert process_photo(camera_jpeg(taken=taken), visit=visit).exif_taken_at is None


@pytest.mark.parametrize(
    ("lat_ref", "lon_ref", "expected"),
    [("N", "E", (30.26, 114.5)), ("S", "W", (-30.26, -114.5)), ("N", "W", (30.26, -114.5))],
)
def test_gps_is_converted_to_signed_decimal_degrees(
    visit: WatermarkInfo, lat_ref: str, lon_ref: str, expected: tuple[float, float]
) -> None:
    gps = (lat_ref, (30.0, 15.0, 36.0), lon_ref, (114.0, 30.0, 0.0))
    photo = process_photo(camera_jpeg(gps=gps), visit=visit)
    assert photo.exif_latitude == pytest.approx(expected[0], abs=1e-9)
    assert photo.exif_longitude == pytest.approx(expected[1], abs=1e-9)


# --- formats ----------------------------------------------------------------------------------


def test_png_with_alpha_is_flattened_on_white(visit: WatermarkInfo) -> None:
    image = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 32, 48))
    photo = process_photo(encode(image, "PNG"), visit=visit)
    assert photo.media_type == "image/png"
    evidence = Image.open(io.BytesIO(photo.evidence_bytes)).convert("RGB")
    pixel = evidence.getpixel((56, 24))
    assert isinstance(pixel, tuple) and min(pixel) > 240  # transparent half became white, not black


def test_webp_is_accepted(visit: WatermarkInfo) -> None:
    photo = process_photo(encode(two_tone((80, 60)), "WEBP"), visit=visit)
    assert (photo.media_type, photo.width, photo.height) == ("image/webp", 80, 60)


def test_multi_picture_jpeg_from_a_phone_is_a_jpeg(visit: WatermarkInfo) -> None:
    mpo = encode(two_tone(), "MPO", save_all=True, append_images=[Image.new("RGB", (60, 40))])
    photo = process_photo(mpo, visit=visit)
    assert (photo.media_type, photo.width, photo.height) == ("image/jpeg", 60, 40)


def test_cmyk_jpeg_and_16_bit_grey_png_become_sensible_rgb(visit: WatermarkInfo) -> None:
    cmyk = process_photo(encode(two_tone().convert("CMYK")), visit=visit)
    assert Image.open(io.BytesIO(cmyk.evidence_bytes)).mode == "RGB"
    grey = process_photo(encode(Image.new("I;16", (40, 40), 32768), "PNG"), visit=visit)
    pixel = Image.open(io.BytesIO(grey.thumbnail_bytes)).convert("L").getpixel((20, 20))
    assert isinstance(pixel, int) and 100 < pixel < 160  # mid grey, not clipped to white


# --- rejections -------------------------------------------------------------------------------


def test_decompression_bomb_is_rejected_without_decoding(visit: WatermarkInfo, bomb: bytes) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert rejection(bomb, visit) == "too_many_pixels"
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100 * 1024  # decoding 20001² pixels would need at least 400 MB


def test_pixel_cap_is_configurable(visit: WatermarkInfo) -> None:
    assert rejection(encode(two_tone((200, 200))), visit, pixel_cap=10_000) == "too_many_pixels"


def test_truncated_jpeg_is_corrupt(visit: WatermarkInfo) -> None:
    data = encode(Image.effect_noise((400, 300), 60).convert("RGB"))
    assert rejection(data[: len(data) // 2], visit) == "corrupt"
    assert rejection(data[:40], visit) == "corrupt"  # cut inside the headers
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_png_with_bad_checksum_is_corrupt(visit: WatermarkInfo) -> None:
    data = bytearray(encode(two_tone(), "PNG"))
    data[-20] ^= 0xFF  # inside the IDAT payload, so its CRC no longer matches
    assert rejection(bytes(data), visit) == "corrupt"


@pytest.mark.parametrize("data", [b"Dear parents, the meeting is on Monday.\n", b"", b"%PDF-1.7\n"])
def test_non_image_is_rejected(visit: WatermarkInfo, data: bytes) -> None:
    assert rejection(data, visit) == "not_an_image"


def test_oversized_payload_is_rejected_before_decoding(visit: WatermarkInfo) -> None:
    # Text, not an image: "too_large" proves the size was checked before anything was parsed.
    assert rejection(b"x" * (MAX_DOWNLOAD_BYTES + 1), visit) == "too_large"


def test_other_image_formats_are_unsupported(visit: WatermarkInfo) -> None:
    assert rejection(encode(two_tone(), "GIF"), visit) == "unsupported_format"
    assert rejection(encode(two_tone(), "BMP"), visit) == "unsupported_format"


def test_heic_is_unsupported_unless_a_plugin_is_registered(visit: WatermarkInfo) -> None:
    Image.init()
    if "HEIF" in Image.OPEN:
        pytest.skip("a HEIF plugin is registered in this environment")
    heic_header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    assert rejection(heic_header, visit) == "unsupported_format"


# --- hashes, derived copies, watermark --------------------------------------------------------


def test_hashes_describe_the_received_bytes_and_the_stored_original(visit: WatermarkInfo) -> None:
    data = camera_jpeg()
    photo = process_photo(data, visit=visit)
    assert photo.received_sha256 == hashlib.sha256(data).hexdigest()
    assert photo.sha256 == hashlib.sha256(photo.original_bytes).hexdigest() != photo.received_sha256
    assert photo.size_bytes == len(photo.original_bytes) and photo.media_type == "image/jpeg"
    assert photo.evidence_sha256 == hashlib.sha256(photo.evidence_bytes).hexdigest()
    assert photo.thumbnail_sha256 == hashlib.sha256(photo.thumbnail_bytes).hexdigest()


def test_derived_copies_carry_no_exif_gps_or_comment(visit: WatermarkInfo) -> None:
    gps = ("N", (30.0, 15.0, 36.0), "E", (114.0, 30.0, 0.0))
    photo = process_photo(camera_jpeg(gps=gps), visit=visit)
    for data in (photo.evidence_bytes, photo.thumbnail_bytes):
        derived = Image.open(io.BytesIO(data))
        assert derived.format == "JPEG"
        assert len(derived.getexif()) == 0 and IFD.GPSInfo not in derived.getexif()
        assert not {"exif", "xmp", "comment", "icc_profile"} & derived.info.keys()
        assert b"AcmePhone" not in data and b"Shimen" not in data


def test_evidence_has_a_dark_strip_with_light_text_below_the_photo(visit: WatermarkInfo) -> None:
    yellow = (230, 200, 40)
    photo = process_photo(encode(Image.new("RGB", (900, 600), yellow), quality=95), visit=visit)
    evidence = Image.open(io.BytesIO(photo.evidence_bytes)).convert("L")
    assert evidence.width == 900 and evidence.height > 600
    strip = evidence.crop((0, 605, 900, evidence.height))
    histogram = strip.histogram()
    dark, light = sum(histogram[:60]), sum(histogram[200:])
    assert dark > 0.6 * strip.width * strip.height  # mostly background
    assert light > 500  # and a fair amount of text
    pixel = evidence.getpixel((450, 300))
    assert isinstance(pixel, int) and pixel > 150  # the photo itself is not covered


def test_evidence_is_downscaled_and_thumbnail_is_small(visit: WatermarkInfo) -> None:
    data = encode(two_tone((1200, 900)))
    photo = process_photo(data, visit=visit, policy=PhotoPolicy(max_evidence_side=600, thumbnail_side=160))
    evidence = Image.open(io.BytesIO(photo.evidence_bytes))
    thumbnail = Image.open(io.BytesIO(photo.thumbnail_bytes))
    assert evidence.width == 600 and (photo.width, photo.height) == (1200, 900)
    assert thumbnail.size == (160, 120)


def test_watermark_lines_show_the_visit_facts() -> None:
    info = WatermarkInfo(
        visit_time=datetime(2025, 3, 14, 7, 30, tzinfo=UTC),
        village="石门村\n二组",
        case_number="C-7",
        visitor_name="李四",
        latitude=-29.5,
        longitude=110.25,
    )
    lines = info.lines(SHANGHAI)
    assert lines[0].endswith("2025-03-14 15:30 (UTC+08:00)")
    assert lines[1].endswith("石门村 二组 (29.5000°S, 110.2500°E)")
    assert lines[2].endswith("C-7") and lines[3].endswith("李四")


def test_watermark_without_shared_location_has_no_coordinates(visit: WatermarkInfo) -> None:
    info = WatermarkInfo(visit.visit_time, "石门村", "C-1", "张老师")
    assert info.lines()[1].endswith("石门村")


def test_naive_visit_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        WatermarkInfo(datetime(2025, 3, 14, 15, 30), "石门村", "C-1", "张老师")


@pytest.mark.skipif(not WQY.is_file(), reason="fonts-wqy-microhei is not installed")
def test_a_cjk_font_is_found_and_draws_distinct_glyphs() -> None:
    choice = resolve_font()
    assert choice.is_cjk and choice.path == WQY
    font = photo_watermark._load_font(choice, 40)
    glyphs = [Image.new("L", (60, 60)) for _ in range(2)]
    for canvas, char in zip(glyphs, "家访", strict=True):
        photo_watermark.ImageDraw.Draw(canvas).text((5, 5), char, font=font, fill=255)
    assert glyphs[0].getbbox() and ImageChops.difference(*glyphs).getbbox()  # not two "tofu" boxes


def test_missing_fonts_fall_back_with_a_warning(
    visit: WatermarkInfo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(photo_watermark, "CJK_FONT_CANDIDATES", (("/nonexistent/font.ttc", 0),))
    photo_watermark._search_cjk_font.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="domain.photos.watermark"):
            photo = process_photo(encode(two_tone()), visit=visit, font_path="/nonexistent/given.ttf")
    finally:
        photo_watermark._search_cjk_font.cache_clear()
    assert photo.evidence_bytes
    assert "no CJK font found" in caplog.text and "given.ttf" in caplog.text


def test_result_fields_are_attachment_columns(visit: WatermarkInfo) -> None:
    fields = process_photo(camera_jpeg(), visit=visit).attachment_fields()
    columns = set(Attachment.__table__.columns.keys())
    assert set(fields) <= columns
    assert {"sha256", "evidence_sha256", "thumbnail_sha256", "exif_time_mismatch"} <= set(fields)


# --- async ------------------------------------------------------------------------------------


async def test_async_processing_keeps_the_event_loop_running(visit: WatermarkInfo) -> None:
    data = encode(Image.effect_noise((3000, 2000), 40).convert("RGB"), quality=90)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    photo = await process_photo_async(data, visit=visit)
    done.set()
    await ticking
    assert isinstance(photo, ProcessedPhoto) and photo.width == 3000
    assert ticks > 0
