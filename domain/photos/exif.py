"""What a photo's EXIF says about when and where it was taken; malformed EXIF counts as absent."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from PIL import Image
from PIL.ExifTags import GPS, IFD, Base

log = logging.getLogger(__name__)

_EXIF_TIME = re.compile(r"^\s*(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"^\s*([+-])(\d{2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class ExifFacts:
    """Capture time (aware) and position (decimal degrees) read from EXIF, each None if absent."""

    taken_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


def parse_exif_time(value: object, offset: object, tz: tzinfo) -> datetime | None:
    """An EXIF 'YYYY:MM:DD HH:MM:SS' as an aware datetime; naive times are read as local to `tz`."""
    text = _text(value)
    match = _EXIF_TIME.match(text or "")
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError:  # e.g. "0000:00:00 00:00:00" written by cameras with no clock set
        return None
    offset_match = _EXIF_OFFSET.match(_text(offset) or "")
    if offset_match is not None:
        sign, hours, minutes = offset_match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta < timedelta(hours=24):
            return naive.replace(tzinfo=timezone(-delta if sign == "-" else delta))
    return naive.replace(tzinfo=tz)


def dms_to_degrees(dms: object, ref: object) -> float | None:
    """Degrees/minutes/seconds rationals to signed decimal degrees (S and W are negative)."""
    if not isinstance(dms, tuple | list) or not 1 <= len(dms) <= 3:
        return None
    try:
        parts = [float(p) for p in dms]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(p) and p >= 0 for p in parts):
        return None  # IFDRational with a zero denominator becomes nan
    degrees = sum(p / 60**i for i, p in enumerate(parts))
    hemisphere = (_text(ref) or "").upper()[:1]
    return -degrees if hemisphere in ("S", "W") else degrees


def read_exif(image: Image.Image, tz: tzinfo) -> ExifFacts:
    """Reads DateTimeOriginal (or DateTimeDigitized) and the GPS position, if any."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(IFD.Exif)
        gps = exif.get_ifd(IFD.GPSInfo)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError) as exc:
        log.info("ignoring malformed EXIF: %s", exc)
        return ExifFacts()
    taken_at = parse_exif_time(sub.get(Base.DateTimeOriginal), sub.get(Base.OffsetTimeOriginal), tz)
    if taken_at is None:
        taken_at = parse_exif_time(sub.get(Base.DateTimeDigitized), sub.get(Base.OffsetTimeDigitized), tz)
    latitude = dms_to_degrees(gps.get(GPS.GPSLatitude), gps.get(GPS.GPSLatitudeRef))
    longitude = dms_to_degrees(gps.get(GPS.GPSLongitude), gps.get(GPS.GPSLongitudeRef))
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        latitude = longitude = None
    elif latitude == 0 and longitude == 0:
        latitude = longitude = None  # receivers without a fix write zeros, not a real place
    return ExifFacts(taken_at=taken_at, latitude=latitude, longitude=longitude)
