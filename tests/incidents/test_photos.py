"""Services and pages: photos from the scene on an incident (what a file is, who may attach and see it)."""

import hashlib
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.permissions import Role
from apps.incidents import services
from apps.incidents.choices import IncidentStatus, TimelineKind
from apps.incidents.models import IncidentPhoto, TimelineEntry
from apps.ledger.models import AuditEvent
from tests.incidents.world import advance, report_incident

pytestmark = pytest.mark.django_db


def image_bytes(fmt: str = "PNG", size=(12, 9)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name="scene.png", content=None, content_type="image/png"):
    return SimpleUploadedFile(name, image_bytes() if content is None else content, content_type=content_type)


def attach(w, incident, department=None, **kwargs):
    department = department or w.em_a1
    return services.incident_photo_add(
        actor=kwargs.pop("actor", None) or w.user(department),
        incident=incident,
        department=department,
        uploaded_file=kwargs.pop("uploaded_file", None) or upload(),
        **kwargs,
    )


def test_a_photo_is_stored_with_its_size_dimensions_hash_ledger_event_and_timeline_entry(w):
    incident = report_incident(w)
    content = image_bytes("JPEG", size=(40, 30))

    photo = attach(w, incident, uploaded_file=upload("堤坝.jpg", content, "image/jpeg"), caption="东堤管涌")

    photo.refresh_from_db()
    assert (photo.name, photo.caption, photo.content_type) == ("堤坝.jpg", "东堤管涌", "image/jpeg")
    assert (photo.size, photo.width, photo.height) == (len(content), 40, 30)
    assert photo.sha256 == hashlib.sha256(content).hexdigest()
    assert photo.file.open("rb").read() == content
    event = AuditEvent.objects.get(action="incident.photo")
    assert (event.target_id, event.after["photo"], event.after["sha256"]) == (str(incident.pk), photo.pk, photo.sha256)
    entry = TimelineEntry.objects.get(incident=incident, kind=TimelineKind.PHOTO)
    assert entry.ledger_seq == event.seq
    with translation.override("en"):
        assert entry.text == f"Photo from {w.em_a1.name}: 东堤管涌"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("report.png", b"%PDF-1.7 not a photo", "Only PNG and JPEG photos can be attached."),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "Only PNG and JPEG photos can be attached."),
        ("scene.jpg", None, "The file's name does not match its content (image/png)."),
    ],
    ids=["not-an-image", "truncated-png", "name-mismatch"],
)
def test_what_the_file_is_comes_from_its_content(w, name, content, message):
    incident = report_incident(w)
    with translation.override("en"), pytest.raises(ServiceError) as refused:
        attach(w, incident, uploaded_file=upload(name, content, content_type="image/png"))
    assert (refused.value.field, refused.value.message) == ("photo", message)
    assert not IncidentPhoto.objects.exists()
    assert not AuditEvent.objects.filter(action="incident.photo").exists()


def test_a_closed_incident_takes_no_more_photos(w):
    incident = advance(w, report_incident(w), IncidentStatus.CLOSED)
    with pytest.raises(ServiceError) as refused:
        attach(w, incident)
    assert refused.value.code == "incident_closed"


def test_only_a_member_who_may_report_for_the_department_and_sees_the_incident_attaches(w):
    incident = report_incident(w, regions=[w.a1])
    # a department of the other province does not see the incident
    with pytest.raises(AccessDenied):
        attach(w, incident, department=w.em_b1)
    # someone of another department may not attach in the name of the reporting department
    with pytest.raises(AccessDenied):
        attach(w, incident, department=w.em_a1, actor=w.user(w.fire_a1, Role.HEAD))
    assert not IncidentPhoto.objects.exists()


def test_the_photo_is_served_inline_to_those_who_see_the_incident_only(w):
    incident = report_incident(w, regions=[w.a1])
    photo = attach(w, incident)
    url = reverse("portal:incident-photo", kwargs={"pk": incident.pk, "photo_pk": photo.pk})
    seen, unseen = Client(), Client()
    seen.force_login(w.user(w.fire_a1))
    unseen.force_login(w.user(w.em_b1))

    response = seen.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == photo.file.open("rb").read()
    assert unseen.get(url).status_code == 404
    # a photo addressed through another incident the caller sees is not found either
    other = report_incident(w, regions=[w.a1], title="另一事件")
    assert seen.get(reverse("portal:incident-photo", kwargs={"pk": other.pk, "photo_pk": photo.pk})).status_code == 404


def test_the_portal_form_shows_the_services_message_beside_the_photo_field(w):
    incident = report_incident(w)
    client = Client()
    client.force_login(w.user(w.em_a1))
    with translation.override("en"):
        response = client.post(
            reverse("portal:incident-photo-add", kwargs={"pk": incident.pk}),
            {"department": w.em_a1.pk, "photo": upload("notes.png", b"plain text"), "caption": ""},
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 400
    assert response.context["photo_form"].errors == {"photo": ["Only PNG and JPEG photos can be attached."]}
    assert not IncidentPhoto.objects.exists()
