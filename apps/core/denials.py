"""Recording permission denials in the ledger (after the refused transaction rolled back)."""

from apps.core.exceptions import AccessDenied


def denial_record(*, user, exc: AccessDenied) -> None:
    from apps.ledger.services import audit_record_standalone

    target = exc.target if exc.target is not None and not isinstance(exc.target, type) else None
    label = exc.target._meta.label_lower if isinstance(exc.target, type) else None
    audit_record_standalone(
        actor=user,
        action="access.denied",
        target=target if target is not None and target.pk is not None else None,
        after={"action": exc.action, "model": label or (target._meta.label_lower if target is not None else "")},
        target_repr="",
    )
