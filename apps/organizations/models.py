from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase

from apps.core.permissions import Role
from apps.core.scoping import NOTHING, ScopedModel, subtree_q

from .choices import AgreementStatus, DepartmentType, LeadingGroupKind, LeadingGroupRole, RegionLevel

division_code = RegexValidator(r"^\d{6}$", _("Enter the 6-digit administrative division code."))

# The level each level sits under (None: a root), per the PRC administrative division code.
PARENT_LEVEL = {
    RegionLevel.PROVINCE: None,
    RegionLevel.CITY: RegionLevel.PROVINCE,
    RegionLevel.COUNTY: RegionLevel.CITY,
}


PARENT_MESSAGES = {
    RegionLevel.PROVINCE: _("A province is a top-level region: it has no parent."),
    RegionLevel.CITY: _("A city must sit under a province."),
    RegionLevel.COUNTY: _("A county or district must sit under a city."),
}


def region_tree_errors(*, code: str, level: str, parent) -> dict[str, str]:
    """What is wrong with placing a region of `level` and `code` under `parent` ({} when nothing).

    GB/T 2260: a province is a root coded PP0000; a city sits under a province and is coded
    PPCC00; a county/district sits under a city and is coded PPCCDD (CC and DD never 00), so a
    child's code starts with its parent's two (province) or four (city) digits.
    """
    if level not in PARENT_LEVEL:
        return {}  # the choices validator reports an unknown level
    errors: dict[str, str] = {}
    want_parent = PARENT_LEVEL[level]
    if (parent.level if parent is not None else None) != want_parent:
        errors["parent"] = PARENT_MESSAGES[level]
    if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
        return errors  # the format validator reports it
    if level == RegionLevel.PROVINCE and (code[2:] != "0000" or code[:2] == "00"):
        errors["code"] = _("A province's division code ends in 0000, e.g. 320000.")
    elif level == RegionLevel.CITY and (code[2:4] == "00" or code[4:] != "00"):
        errors["code"] = _("A city's division code ends in 00 and its middle two digits are not 00, e.g. 320100.")
    elif level == RegionLevel.COUNTY and code[4:] == "00":
        errors["code"] = _("A county's or district's division code does not end in 00, e.g. 320106.")
    elif "parent" not in errors and parent is not None:
        prefix = parent.code[:2] if level == RegionLevel.CITY else parent.code[:4]
        if not code.startswith(prefix):
            errors["code"] = _("The division code must start with %(prefix)s, the code of %(parent)s.") % {
                "prefix": prefix,
                "parent": parent.name,
            }
    return errors


class Region(ScopedModel):
    """A tenant: province → city → county/district. `path` holds the codes from the root, so a
    subtree is one `startswith` filter."""

    code = models.CharField(_("division code"), max_length=6, unique=True, validators=[division_code])
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )
    path = models.CharField(_("path"), max_length=120, editable=False, db_index=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["path"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self):
        errors = region_tree_errors(code=self.code, level=self.level, parent=self.parent)
        if errors:
            raise ValidationError(errors)

    @property
    def ancestor_codes(self) -> list[str]:
        return [c for c in self.path.split("/") if c]

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        """My regions with everything below and above them. An agreement opens a partner region
        whichever of its flags is set: a region is only a name and a division code, and every flag
        shows objects that carry it (a shared incident's affected regions, a dataset owner's
        region), so the label must resolve. An agreement sharing nothing opens nothing."""
        paths = principal.region_paths(roles)
        ancestors = {code for p in paths for code in p.split("/") if code}
        opened = set().union(*principal.agreement_paths.values()) if principal.agreement_paths else set()
        q = subtree_q("path", paths | opened) | Q(code__in=ancestors)
        if principal.office_group_ids(roles):
            q |= subtree_q("path", principal.office_region_paths)  # an information office oversees its group's regions
        groups = principal.leading_group_ids(roles)
        if groups:
            q |= Q(pk__in=Department.objects.filter(leading_group_seats__group_id__in=groups).values("region_id"))
        return q


class Department(ScopedModel):
    """A department of one region. Its auth group receives every cross-scope grant (never people)."""

    GUARDIAN_GRANTS = ("view",)  # actions that explicit guardian grants can open

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="departments", verbose_name=_("region"))
    name = models.CharField(_("name"), max_length=120)
    type = models.CharField(_("type"), max_length=32, choices=DepartmentType.choices)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="department", editable=False)
    contact_phone = models.CharField(_("duty phone"), max_length=40, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["region__path", "name"]
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="department_unique_name_in_region")]
        permissions = [
            ("manage_members_department", "Can manage members of department"),
            ("grant_department", "Can grant access to department"),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action != "view":
            return Q(pk__in=principal.department_ids(roles))
        q = subtree_q("region__path", principal.region_paths(roles))
        q |= subtree_q("region__path", principal.agreement_paths.get("share_directory", set()))
        groups = principal.leading_group_ids(roles)
        if groups:
            q |= Q(pk__in=LeadingGroupSeat.objects.filter(group_id__in=groups).values("department_id"))
        return q


class DepartmentGroupObjectPermission(GroupObjectPermissionBase):
    """guardian's direct-FK table for explicit grants on a department to another department's group."""

    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("department access grant")
        verbose_name_plural = _("department access grants")
        constraints = [
            models.UniqueConstraint(
                fields=["group", "permission", "content_object"], name="department_group_perm_unique"
            )
        ]


class Membership(ScopedModel):
    """A user's seat in a department with one role; the user is also in the department's group."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("department")
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["department_id", "role", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "department", "role"], name="membership_unique_role")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.department} ({self.get_role_display()})"

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        return Q(department_id__in=principal.department_ids(roles))


class CollaborationAgreement(ScopedModel):
    """The only door through which one region's staff see another region's objects.

    Each flag opens one kind of object between the parties (and the regions below them) while the
    agreement is active and inside its validity window.
    """

    title = models.CharField(_("title"), max_length=200)
    parties = models.ManyToManyField(Region, related_name="agreements", verbose_name=_("parties"))
    share_directory = models.BooleanField(_("share department directory"), default=True)
    share_incidents = models.BooleanField(_("share incidents"), default=True)
    share_tasks = models.BooleanField(_("share tasks"), default=True)
    share_catalog = models.BooleanField(_("share data catalog"), default=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    SCOPE_FLAGS = ("share_directory", "share_incidents", "share_tasks", "share_catalog")

    class Meta:
        verbose_name = _("collaboration agreement")
        verbose_name_plural = _("collaboration agreements")
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        paths = principal.region_paths(roles)
        ancestors = {code for p in paths for code in p.split("/") if code}
        if not ancestors:
            return NOTHING
        return Q(pk__in=cls.objects.filter(parties__code__in=ancestors).values("pk"))


class LeadingGroup(ScopedModel):
    """信息化应急领导小组: spans regions; its member departments see what is shared into it.

    A standing group has no incident; a group convened for an incident names it in `convened_for`
    (and takes charge of it, see `leading_group_convene`). A convened group without an incident is
    tolerated: it may be convened before the incident is registered on the platform.
    """

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=LeadingGroupKind.choices)
    convened_for = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="convened_groups",
        verbose_name=_("convened for incident"),
    )
    regions = models.ManyToManyField(Region, related_name="leading_groups", verbose_name=_("regions"))
    departments = models.ManyToManyField(
        Department, through="LeadingGroupSeat", related_name="leading_groups", verbose_name=_("member departments")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("leading group")
        verbose_name_plural = _("leading groups")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(convened_for__isnull=True) | Q(kind=LeadingGroupKind.CONVENED),
                name="leading_group_convened_for_needs_convened_kind",
                violation_error_message=_("Only a group convened for an incident names an incident."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_q(cls, principal, action, roles) -> Q:
        if action == "view":
            return Q(pk__in=principal.leading_group_ids(roles))
        # changing the group is for the head of its information office
        return Q(
            pk__in=LeadingGroupSeat.objects.filter(
                department_id__in=principal.department_ids(roles), role=LeadingGroupRole.INFORMATION_OFFICE
            ).values("group_id")
        )

    def seat_of(self, role: str):
        return next((s for s in self.seats.all() if s.role == role), None)


class LeadingGroupSeat(models.Model):
    """A department's place in a leading group: member, information office or big-data center."""

    group = models.ForeignKey(LeadingGroup, on_delete=models.CASCADE, related_name="seats", verbose_name=_("group"))
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="leading_group_seats", verbose_name=_("department")
    )
    role = models.CharField(_("role"), max_length=24, choices=LeadingGroupRole.choices, default=LeadingGroupRole.MEMBER)

    class Meta:
        verbose_name = _("leading group seat")
        verbose_name_plural = _("leading group seats")
        constraints = [
            models.UniqueConstraint(fields=["group", "department"], name="leading_group_seat_unique"),
            models.UniqueConstraint(
                fields=["group"],
                condition=Q(role="information_office"),
                name="leading_group_one_information_office",
            ),
            models.UniqueConstraint(
                fields=["group"],
                condition=Q(role="big_data_center"),
                name="leading_group_one_big_data_center",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group} / {self.department} ({self.get_role_display()})"
