"""Files on a task: the upload service, its content check, and the attachment list.

Kept apart from `services.py` (the task state machine): an attachment changes no status. The
rules are a service's all the same: authorize, lock, check, write, one ledger event, in one
transaction. What a file *is* comes from its first bytes, never from the client's content type.
"""

from __future__ import annotations

import codecs
import hashlib

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.core.exceptions import AccessDenied, ServiceError
from apps.core.scoping import authorize, principal_for
from apps.core.uploads import UnsafeZip, clean_file_name, looks_like_markup, zip_inspect
from apps.ledger.services import audit_record
from apps.organizations.choices import LeadingGroupRole

from .choices import TaskStatus
from .models import Task, TaskAttachment

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
SNIFF_BYTES = 8192
CLOSED_STATUSES = (TaskStatus.VERIFIED, TaskStatus.CANCELLED)

# content type -> the file name extensions it may carry
EXTENSIONS = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "application/pdf": (".pdf",),
    "text/plain": (".txt",),
    "text/csv": (".csv",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
}
MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
)
ZIP_MAGIC = b"PK\x03\x04"
# C0 control characters a text file does not hold (tab, line feed, form feed and carriage return are fine)
CONTROL_BYTES = frozenset(range(32)) - {9, 10, 12, 13}


def _is_text(head: bytes) -> bool:
    """UTF-8 (with or without a BOM) or GB18030 text without control characters."""
    if any(b in CONTROL_BYTES for b in head):
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return True
    return False


def _office_document(uploaded_file) -> str | None:
    """An Office Open XML workbook or document: a zip with the package manifest and its part (its
    directory read without unpacking anything; an archive with more parts than any document has
    is none)."""
    try:
        names = zip_inspect(uploaded_file).names
    except (UnsafeZip, OSError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(n.startswith("xl/") for n in names):
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    if any(n.startswith("word/") for n in names):
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return None


def sniff_content_type(uploaded_file, name: str) -> str | None:
    """The allowed content type of the file (PNG, JPEG, PDF, plain text or CSV, XLSX, DOCX) read
    from its first bytes, or None. Text has no signature: the extension tells CSV from plain text."""
    uploaded_file.seek(0)
    head = uploaded_file.read(SNIFF_BYTES)
    uploaded_file.seek(0)
    for magic, content_type in MAGIC:
        if head.startswith(magic):
            return content_type
    if head.startswith(ZIP_MAGIC):
        return _office_document(uploaded_file)
    if head and _is_text(head) and not looks_like_markup(head):  # a web page or an SVG is not plain text
        return "text/csv" if name.lower().endswith(".csv") else "text/plain"
    return None


def _uploader_department(actor, task: Task) -> int | None:
    """The department the file is attached for: the accountable one, the issuer, or (for a task a
    leading group issued) the group's information office, whichever the actor sits in."""
    principal = principal_for(actor)
    mine = principal.department_ids() if principal else set()
    for department_id in (task.department_id, task.issuer_department_id):
        if department_id in mine:
            return department_id
    if task.issuer_group_id:
        office = task.issuer_group.seat_of(LeadingGroupRole.INFORMATION_OFFICE)
        if office and office.department_id in mine:
            return office.department_id
    if principal is not None and principal.is_superuser:
        return task.issuer_department_id
    return None


@transaction.atomic
def task_attach(*, actor, task: Task, uploaded_file, is_evidence: bool = False) -> TaskAttachment:
    """Attach a file for the issuer or the accountable department (evidence: the accountable one
    only). At most 10 MB; PNG, JPEG, PDF, plain text/CSV, XLSX or DOCX by content, and a name that
    matches it. Stores the size and the SHA-256 of what was stored, and one ledger event."""
    authorize(actor, "view", task)
    task = (
        Task.objects.select_for_update(of=("self",))  # the task row only (the group join is an outer one)
        .select_related("department__region", "issuer_group")
        .get(pk=task.pk)
    )
    department_id = _uploader_department(actor, task)
    if department_id is None:
        raise AccessDenied(action="attach", target=task, hidden=False)
    if task.status in CLOSED_STATUSES:
        raise ServiceError(_("The task is closed; no more files can be attached."), code="task_closed")
    if is_evidence and department_id != task.department_id:
        raise ServiceError(_("Only the accountable department attaches evidence."), field="is_evidence")
    if uploaded_file is None:
        raise ServiceError(_("Choose a file."), field="file")
    name = clean_file_name(uploaded_file.name)
    if not name:
        raise ServiceError(_("The file needs a name."), field="file")
    if uploaded_file.size > MAX_ATTACHMENT_BYTES:
        raise ServiceError(
            _("A file may hold at most %(mb)d MB.") % {"mb": MAX_ATTACHMENT_BYTES // (1024 * 1024)},
            field="file",
            code="file_too_large",
        )
    if uploaded_file.size == 0:
        raise ServiceError(_("The file is empty."), field="file")
    content_type = sniff_content_type(uploaded_file, name)
    if content_type is None:
        raise ServiceError(
            _("Only images (PNG, JPEG), PDF, text or CSV, Excel (XLSX) and Word (DOCX) files can be attached."),
            field="file",
            code="unsupported_file_type",
        )
    if not name.lower().endswith(EXTENSIONS[content_type]):
        raise ServiceError(
            _("The file's name does not match its content (%(type)s).") % {"type": content_type},
            field="file",
            code="unsupported_file_type",
        )
    digest, size = hashlib.sha256(), 0
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
        size += len(chunk)
    uploaded_file.seek(0)
    attachment = TaskAttachment(
        task=task,
        name=name,
        size=size,
        content_type=content_type,
        sha256=digest.hexdigest(),
        uploaded_by=actor,
        department_id=department_id,
        is_evidence=is_evidence,
    )
    attachment.file.save(name, uploaded_file, save=False)
    try:
        attachment.save()
        audit_record(
            actor=actor,
            action="task.attach",
            target=task,
            region=task.department.region,
            after={
                "attachment": attachment.pk,
                "name": name,
                "size": size,
                "sha256": attachment.sha256,
                "content_type": content_type,
                "is_evidence": is_evidence,
                "department": department_id,
            },
        )
    except BaseException:
        # the row and the ledger event roll back with the transaction; the stored file must go too
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


def task_attachments(*, task: Task) -> QuerySet[TaskAttachment]:
    """Attachments of a task the caller already obtained through `task_list` (so it is in scope)."""
    return task.attachments.select_related("uploaded_by", "department")
