"""QR codes drawn on the server as inline SVG: no image service, no script, nothing from outside
the intranet (the portal's Content-Security-Policy allows none of those)."""

import qrcode
import qrcode.image.svg
from django.utils.safestring import SafeString, mark_safe


def qr_svg(data: str, *, label: str) -> SafeString:
    """`data` as an SVG QR code with an accessible name. The SVG is built by qrcode from path
    data alone (no text from `data` appears in it), so it is safe to put in the page as is."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    attributes = 'class="otp-qr" role="img" aria-label="{}" '.format(
        str(label).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    )
    return mark_safe(svg.replace("<svg ", "<svg " + attributes, 1))  # noqa: S308  (built above, no user markup)
