"""Logo files for the upload tests, built byte by byte where Pillow would need the memory we guard."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def blank_png(width: int, height: int) -> bytes:
    """A real, valid 1-bit greyscale PNG of width x height, all black: tiny on disk (zeros compress about
    1000:1), width*height pixels once decoded. 20000x20000 is about 49 KB, as in the issue."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte "none", then the packed pixels
    packer = zlib.compressobj(9)
    rows_per_step = max(1, (1 << 20) // len(row))
    parts = []
    for start in range(0, height, rows_per_step):
        parts.append(packer.compress(row * min(rows_per_step, height - start)))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def photo_bytes(fmt: str, size=(1024, 512), *, exif: bool = False) -> bytes:
    """A colourful image (so that it does not compress to nothing), optionally with EXIF metadata."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((200, 30, 30), (0, 0, size[0] // 3, size[1]))
    buffer = io.BytesIO()
    extra = {}
    if exif:
        data = Image.Exif()
        data[0x010E] = "secret description"  # ImageDescription
        data[0x013B] = "Jane Photographer"  # Artist
        extra["exif"] = data.tobytes()
    image.save(buffer, format=fmt, **extra)
    return buffer.getvalue()
