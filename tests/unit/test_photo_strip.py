"""The stored original keeps the pixels and the orientation but no location or camera metadata."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageChops
from PIL.ExifTags import IFD, Base

from domain.photos.processing import WatermarkInfo, process_photo
from domain.photos.strip import location_tags, stored_original, strip_jpeg
from tests.unit.test_photos import camera_exif, camera_jpeg, encode, two_tone

GPS = ("N", (30.0, 15.0, 36.0), "E", (114.0, 30.0, 0.0))


@pytest.fixture
def visit() -> WatermarkInfo:
    at = datetime(2025, 3, 14, 15, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    return WatermarkInfo(visit_time=at, village="石门村", case_number="C-2025-0042", visitor_name="张老师")


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_stored_jpeg_has_no_gps_camera_or_comment_and_the_same_pixels(visit: WatermarkInfo) -> None:
    data = camera_jpeg(gps=GPS)
    assert location_tags(data)  # the phone's file does locate the child
    photo = process_photo(data, visit=visit)
    stored = photo.original_bytes
    assert location_tags(stored) == {}
    assert b"AcmePhone" not in stored and b"Shimen" not in stored
    assert len(_open(stored).getexif()) == 0
    assert ImageChops.difference(_open(stored), _open(data)).getbbox() is None
    # The coordinates and time still reach the database.
    assert photo.exif_latitude is not None and photo.exif_longitude is not None and photo.exif_taken_at


def test_orientation_is_the_only_tag_kept_so_the_photo_stays_upright(visit: WatermarkInfo) -> None:
    photo = process_photo(camera_jpeg(orientation=6, gps=GPS), visit=visit)
    exif = _open(photo.original_bytes).getexif()
    assert dict(exif) == {Base.Orientation: 6}
    assert IFD.GPSInfo not in exif and location_tags(photo.original_bytes) == {}
    assert (photo.width, photo.height) == (40, 60)


def test_stripping_is_deterministic_and_idempotent() -> None:
    data = camera_jpeg(gps=GPS)
    once = strip_jpeg(data)
    assert strip_jpeg(data) == once and strip_jpeg(once) == once


def test_png_and_webp_lose_their_exif_but_keep_their_format() -> None:
    exif = camera_exif(gps=GPS)
    for fmt, media_type in (("PNG", "image/png"), ("WEBP", "image/webp")):
        data = encode(two_tone(), fmt, exif=exif)
        assert location_tags(data), fmt
        stored, kind = stored_original(data, _open(data))
        assert kind == media_type and location_tags(stored) == {} and b"AcmePhone" not in stored


def test_a_turned_png_is_stored_upright_without_metadata() -> None:
    data = encode(two_tone(), "PNG", exif=camera_exif(orientation=6, gps=GPS))
    stored, kind = stored_original(data, _open(data))
    image = _open(stored)
    assert kind == "image/png" and image.size == (40, 60) and len(image.getexif()) == 0


def test_extra_frames_of_a_multi_picture_jpeg_are_dropped(visit: WatermarkInfo) -> None:
    second = Image.new("RGB", (60, 40))
    mpo = encode(two_tone(), "MPO", save_all=True, append_images=[second], exif=camera_exif(gps=GPS))
    photo = process_photo(mpo, visit=visit)
    assert photo.media_type == "image/jpeg" and location_tags(photo.original_bytes) == {}
    assert getattr(_open(photo.original_bytes), "n_frames", 1) == 1
