"""Organisation logos: the one check for what is uploaded and for what pages and PDFs show.

An upload is checked (size in bytes, PNG or JPEG, pixel dimensions) and re-encoded: a PNG of at most
LOGO_STORED_SIZE, aspect kept, without metadata (EXIF, ICC, text chunks). Only that file is stored, so
pages and PDFs never decode a large image. Pixel dimensions are read from the header before anything
is decoded: a small file can claim a huge canvas (a "decompression bomb": 49 KB of PNG for 20000x20000
pixels, about 1 GB once decoded), so such a file is refused in words, never decoded.

`logo_stored_bytes` runs the same check over a stored file before a page or a PDF uses it, so a logo
stored before this rule existed is downscaled on the way out, or ignored if it breaks the rule.
"""

from __future__ import annotations

import io
import logging
import warnings

from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

LOGO_MAX_BYTES = 512 * 1024
# The largest canvas decoded at all (4096x4096 RGBA is 64 MB in memory, briefly).
LOGO_MAX_SIDE = 4096
# What is stored and shown: a logo sits in a top bar, a sign-in page and a PDF cover.
LOGO_STORED_SIZE = (512, 256)
# SVG can carry script, so logos are raster images only; Pillow confirms the bytes match the claim.
LOGO_FORMATS = ("PNG", "JPEG")


class LogoRefused(ValueError):
    """A logo the rules refuse; `message` says why, in words for the person who uploaded it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _not_an_image() -> LogoRefused:
    return LogoRefused(_("The logo must be a PNG or JPEG image (SVG is not accepted)."))


def _too_large_canvas(width: int | None = None, height: int | None = None) -> LogoRefused:
    if width and height:
        return LogoRefused(
            _("The logo is %(width)d×%(height)d pixels; use an image of at most %(side)d×%(side)d pixels.")
            % {"width": width, "height": height, "side": LOGO_MAX_SIDE}
        )
    return LogoRefused(
        _("The logo has too many pixels; use an image of at most %(side)d×%(side)d pixels.") % {"side": LOGO_MAX_SIDE}
    )


def _open(data: bytes):
    """Open (header only) and check format and dimensions before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        # Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS, process-wide) warns above its limit and raises
        # above twice that, at open. Our limit (LOGO_MAX_SIDE, checked below) is far stricter, so its
        # warning is left to that check (which names the dimensions) and its error is a refusal too.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=LOGO_FORMATS)
        except Image.DecompressionBombError:
            raise _too_large_canvas() from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
            raise _not_an_image() from None
    if image.format not in LOGO_FORMATS:
        raise _not_an_image()
    width, height = image.size
    if width < 1 or height < 1:
        raise _not_an_image()
    if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE:
        raise _too_large_canvas(width, height)
    return image


def logo_prepare(data: bytes) -> bytes:
    """The logo to store: a re-encoded PNG of at most LOGO_STORED_SIZE, no metadata.
    Raises LogoRefused (in words) for anything that is not a PNG or JPEG within the limits."""
    from PIL import Image, ImageOps

    if len(data) > LOGO_MAX_BYTES:
        raise LogoRefused(
            _("The logo is too large (%(kb)s KB); use an image of at most %(max)s KB.")
            % {"kb": len(data) // 1024, "max": LOGO_MAX_BYTES // 1024}
        )
    image = _open(data)
    try:
        image.verify()  # checksums and structure, without keeping pixels
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for broken files; all mean "not an image"
        raise _not_an_image() from None
    image = _open(data)  # verify() leaves the image unusable: open again, dimensions checked again
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image.load()
            image = ImageOps.exif_transpose(image)  # a photo's orientation, before EXIF is dropped
            has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
            image.thumbnail(LOGO_STORED_SIZE, Image.Resampling.LANCZOS)
            image.info = {}  # no EXIF, ICC profile or text chunks travel on
            output = io.BytesIO()
            image.save(output, format="PNG", optimize=True)
        except LogoRefused:
            raise
        except Exception:  # noqa: BLE001 - truncated or corrupt pixel data, unsupported modes
            raise _not_an_image() from None
    return output.getvalue()


def logo_is_prepared(data: bytes) -> bool:
    """Whether stored bytes are already what logo_prepare makes (a small PNG): served as they are."""
    try:
        image = _open(data)
    except LogoRefused:
        return False
    width, height = image.size
    return (
        image.format == "PNG"
        and image.mode in ("RGB", "RGBA")
        and width <= LOGO_STORED_SIZE[0]
        and height <= LOGO_STORED_SIZE[1]
        and not set(image.info) - {"dpi", "gamma", "srgb"}
    )


def logo_stored_bytes(organization) -> bytes | None:
    """The organisation's logo as pages and PDFs may use it (a small re-encoded PNG), or None: no logo,
    unreadable, or refused by the upload rules (a logo stored before those rules existed)."""
    field = getattr(organization, "logo", None)
    if not field:
        return None
    slug = getattr(organization, "slug", "?")
    try:
        with field.open("rb") as file:
            data = file.read(LOGO_MAX_BYTES + 1)
    except (OSError, ValueError) as error:
        logger.warning("logo of %s unreadable: %s", slug, error)
        return None
    if logo_is_prepared(data):
        return data
    try:
        return logo_prepare(data)
    except LogoRefused as refusal:
        logger.warning("logo of %s ignored: %s", slug, refusal.message)
        return None
