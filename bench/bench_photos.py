"""Times the photo pipeline on a realistic 12 MP phone JPEG: `python -m bench.bench_photos [runs]`."""

from __future__ import annotations

import io
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw
from PIL.ExifTags import GPS, IFD, Base

from domain.photos.processing import WatermarkInfo, process_photo, resolve_font

SIZE = (4000, 3000)


def make_phone_jpeg(size: tuple[int, int] = SIZE) -> bytes:
    """Gradients, shapes and sensor-like noise, with the EXIF a phone writes (rotated, dated, GPS)."""
    width, height = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    blue = red.transpose(Image.Transpose.ROTATE_180)
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for i in range(40):  # edges and flat areas, like walls, windows and furniture
        x, y = (i * 997) % width, (i * 613) % height
        draw.rectangle((x, y, x + width // 8, y + height // 10), fill=(i * 6 % 256, 120, 255 - i * 5 % 256))
    noise = Image.merge("RGB", [Image.effect_noise(size, 30 + 5 * i) for i in range(3)])
    image = Image.blend(image, noise, 0.2)
    exif = Image.Exif()
    exif[Base.Orientation] = 6
    exif[Base.Make], exif[Base.Model] = "AcmePhone", "X-1"
    exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = "2025:03:14 15:02:11"
    gps = exif.get_ifd(IFD.GPSInfo)
    gps.update({GPS.GPSLatitudeRef: "N", GPS.GPSLatitude: (29.0, 30.0, 12.5)})
    gps.update({GPS.GPSLongitudeRef: "E", GPS.GPSLongitude: (110.0, 15.0, 3.25)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; good enough for a handful of runs."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def main(argv: list[str]) -> None:
    """Runs the pipeline `runs` times and prints median, p95, per-stage times and peak RSS."""
    runs = int(argv[0]) if argv else 10
    # Generated in a child process so its memory does not count in this process's peak RSS.
    with ProcessPoolExecutor(max_workers=1) as pool:
        data = pool.submit(make_phone_jpeg).result()
    visit = WatermarkInfo(
        visit_time=datetime(2025, 3, 14, 15, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
        village="石门村",
        case_number="C-2025-0042",
        visitor_name="张老师",
        latitude=29.50347,
        longitude=110.25090,
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(runs):
        timings: dict[str, float] = {}
        start = time.perf_counter()
        result = process_photo(data, visit=visit, timings=timings)
        totals.append(time.perf_counter() - start)
        for stage, seconds in timings.items():
            stages.setdefault(stage, []).append(seconds)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # ru_maxrss is KiB on Linux

    font = resolve_font().path
    evidence_kb, thumbnail_kb = len(result.evidence_bytes) / 1e3, len(result.thumbnail_bytes) / 1e3
    print(f"input: {SIZE[0]}x{SIZE[1]} JPEG, {len(data) / 1e6:.1f} MB, {runs} runs, font {font}")
    print(
        f"output: {result.width}x{result.height}, evidence {evidence_kb:.0f} kB, thumbnail {thumbnail_kb:.0f} kB"
    )
    print(f"{'stage':<16}{'median ms':>12}{'p95 ms':>10}")
    for stage, values in [*stages.items(), ("total", totals)]:
        print(f"{stage:<16}{statistics.median(values) * 1e3:>12.1f}{percentile(values, 0.95) * 1e3:>10.1f}")
    print(f"peak RSS: {peak_mib:.0f} MiB (before the runs: {rss_before / 1024:.0f} MiB)")


if __name__ == "__main__":
    main(sys.argv[1:])
