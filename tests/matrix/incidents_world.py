"""World objects for the incidents routes, shared by the API and portal matrix modules.

The incident is reported by the target department (city A1, an emergency-management department)
for its own region only; no leading group is in charge, so the reporting region's rule alone
decides who sees it.
"""

import io
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import Category, ReportKind, Severity, Subtype, WarningLevel
from tests import factories as f
from tests.matrix.harness import world_object


def reporter(w):
    """A staff member of the target department who reports on its behalf (not a matrix state's seat)."""
    if not hasattr(w, "_reporter"):
        w._reporter = f.member(w.department, Role.STAFF, display_name="Incident-Reporter")
    return w._reporter


@world_object("incident")
def _incident(w):
    return services.incident_report(
        actor=reporter(w),
        department=w.department,
        title="Target-Incident-Flood",
        category=Category.NATURAL_DISASTER,
        subtype=Subtype.FLOOD,
        severity=Severity.III,
        place="Alpha river bank",
        first_seen_at=timezone.now() - timedelta(minutes=30),
        regions=[w.region],
    )


@world_object("situation_report")
def _situation_report(w):
    return services.report_submit(
        actor=reporter(w),
        incident=w.incident,
        department=w.department,
        kind=ReportKind.INITIAL,
        text="Target-Report-Text",
    )


@world_object("warning")
def _warning(w):
    return services.warning_draft(
        actor=reporter(w),
        issuer=w.department,
        region=w.region,
        level=WarningLevel.YELLOW,
        title="Target-Warning",
        area="Alpha river bank",
        starts_at=timezone.now(),
        expected_hours=24,
        measures="Stay away from the river",
        incident=w.incident,
    )


def png_bytes(width: int = 8, height: int = 6, colour=(200, 40, 40)) -> bytes:
    """A real (decodable) PNG image."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def photo_upload(name: str = "scene.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


@world_object("incident_photo")
def _incident_photo(w):
    return services.incident_photo_add(
        actor=reporter(w),
        incident=w.incident,
        department=w.department,
        uploaded_file=photo_upload(),
        caption="Target-Photo",
    )
