"""Sample media made on the spot, for tests and demos that need pictures but no network.

``IMAGES`` holds a few flat scenes as PNG bytes by file name (a train at a platform, a street, a
sign); ``png`` and ``wav`` are tiny writers (``zlib`` and ``struct`` only). The pictures are to
look at, not data: the emulator's predictions come from hashes, and it draws its generated
images, masks and speech with these writers.

::

    from clarifai_workflow_predict import Input
    from clarifai_workflow_predict.testing import IMAGES

    prediction = client.predict("General", Input.from_bytes(IMAGES["station.png"]))
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["IMAGES", "png", "wav"]

WIDTH, HEIGHT = 480, 320
Color = tuple[int, int, int]


class _Canvas:
    def __init__(self, top: Color, bottom: Color) -> None:
        self.rows = []
        for y in range(HEIGHT):
            t = y / (HEIGHT - 1)
            pixel = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
            self.rows.append(bytearray(pixel * WIDTH))

    def box(self, left: int, top: int, right: int, bottom: int, color: Color) -> None:
        span = bytes(color) * (right - left)
        for y in range(max(0, top), min(HEIGHT, bottom)):
            self.rows[y][left * 3 : right * 3] = span

    def png(self) -> bytes:
        return png(WIDTH, HEIGHT, self.rows)


def png(width: int, height: int, rows: list[bytearray]) -> bytes:
    """An 8-bit RGB PNG of ``rows`` (``width * 3`` bytes each)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes(row) for row in rows), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def wav(samples: bytes, rate: int) -> bytes:
    """A mono 8-bit PCM WAV of ``samples`` (unsigned bytes) at ``rate`` samples per second."""
    header = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = b"fmt " + struct.pack("<I", len(header)) + header
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def _station() -> bytes:
    c = _Canvas((150, 190, 230), (205, 220, 235))
    c.box(0, 230, WIDTH, HEIGHT, (120, 120, 125))  # platform
    c.box(30, 120, 450, 225, (70, 90, 140))  # train
    c.box(30, 120, 450, 132, (200, 60, 50))
    for x in range(50, 430, 60):
        c.box(x, 145, x + 40, 180, (210, 230, 245))  # windows
    c.box(0, 225, WIDTH, 230, (40, 40, 40))  # track
    return c.png()


def _street() -> bytes:
    c = _Canvas((120, 170, 220), (230, 230, 225))
    c.box(0, 210, WIDTH, HEIGHT, (80, 80, 85))  # road
    c.box(20, 60, 140, 210, (170, 120, 90))  # buildings
    c.box(330, 40, 460, 210, (150, 150, 170))
    c.box(170, 160, 300, 215, (200, 40, 40))  # a car
    c.box(190, 140, 280, 162, (200, 40, 40))
    c.box(200, 144, 270, 158, (180, 220, 240))
    for x in range(0, WIDTH, 60):
        c.box(x, 262, x + 30, 268, (240, 240, 240))  # lane marks
    return c.png()


def _sign() -> bytes:
    c = _Canvas((60, 70, 90), (30, 35, 45))
    c.box(60, 70, 420, 250, (245, 245, 240))  # the sign
    for y, width in ((100, 260), (150, 300), (200, 180)):
        c.box(90, y, 90 + width, y + 24, (20, 30, 60))  # lines of "text"
    c.box(230, 250, 250, HEIGHT, (90, 90, 90))  # post
    return c.png()


#: Sample PNGs by file name.
IMAGES: dict[str, bytes] = {"station.png": _station(), "street.png": _street(), "sign.png": _sign()}
