from apps.core.permissions import Role
from apps.core.scoping import principal_for
from apps.organizations.selectors import leading_group_list, membership_list


def dashboard_for(*, user) -> dict:
    """What the role dashboard shows: the user's seats and groups (later issues add their inboxes)."""
    principal = principal_for(user)
    seats = list(membership_list(user=user).filter(user=user))
    return {
        "seats": seats,
        "leading_groups": list(leading_group_list(user=user)),
        "roles": sorted({s.role for s in principal.seats}) if principal else [],
        "Role": Role,
    }
