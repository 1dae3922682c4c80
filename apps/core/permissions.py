"""Roles and what each role may do, in one module (the only role table in the platform).

A user acts through memberships: (department, role). An action on a model is allowed in a
department when one of the user's roles there is listed below. *Where* (which rows) is decided
by each model's `scope_q`; *whether the role suffices* is decided here.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    STAFF = "staff", _("Staff")
    HEAD = "head", _("Department head")
    STEWARD = "steward", _("Data steward")


ALL_ROLES = frozenset(Role.values)
HEADS = frozenset({Role.HEAD})
STEWARDS = frozenset({Role.HEAD, Role.STEWARD})

# (model label, action) -> roles allowed. Absent means: platform administrators only.
ROLE_ACTIONS: dict[tuple[str, str], frozenset[str]] = {
    ("organizations.region", "view"): ALL_ROLES,
    ("organizations.department", "view"): ALL_ROLES,
    ("organizations.department", "change"): HEADS,
    ("organizations.department", "manage_members"): HEADS,
    ("organizations.department", "grant"): HEADS,
    ("organizations.membership", "view"): ALL_ROLES,
    ("organizations.membership", "delete"): HEADS,
    ("organizations.collaborationagreement", "view"): ALL_ROLES,
    ("organizations.leadinggroup", "view"): ALL_ROLES,
    ("organizations.leadinggroup", "change"): HEADS,
    ("accounts.integrationkey", "view"): HEADS,
    ("accounts.integrationkey", "change"): HEADS,
    ("ledger.auditevent", "view"): HEADS,
    ("notifications.notification", "view"): ALL_ROLES,
    ("notifications.webhookendpoint", "view"): HEADS,  # a department's webhooks: its heads only
    ("notifications.webhookendpoint", "change"): HEADS,
    # incidents
    ("organizations.department", "report_incident"): frozenset({Role.HEAD, Role.STAFF}),
    ("organizations.department", "issue_task"): HEADS,
    ("incidents.incident", "view"): ALL_ROLES,
    ("incidents.incident", "command"): frozenset({Role.HEAD, Role.STAFF}),
    ("incidents.situationreport", "view"): ALL_ROLES,
    ("incidents.warning", "view"): ALL_ROLES,
    ("incidents.warning", "change"): frozenset({Role.HEAD, Role.STAFF}),
    ("incidents.warning", "review"): HEADS,
    ("incidents.responseplan", "view"): ALL_ROLES,
    ("incidents.planactivation", "view"): ALL_ROLES,
    ("incidents.reportingclock", "view"): ALL_ROLES,
    ("incidents.timelineentry", "view"): ALL_ROLES,
    ("incidents.incidentphoto", "view"): ALL_ROLES,
    # tasks
    ("tasking.task", "view"): ALL_ROLES,
    ("tasking.task", "respond"): HEADS,  # accept, decline, request a transfer, dispute
    ("tasking.task", "work"): frozenset({Role.HEAD, Role.STAFF}),  # start, progress, complete
    ("tasking.task", "take_transfer"): HEADS,
    ("tasking.task", "control"): frozenset({Role.HEAD, Role.STAFF}),  # verify, return, re-assign, overrule, cancel
    ("tasking.task", "rule"): HEADS,  # the information office rules on disputes
    # the data pool: metadata is discoverable by all, records belong to the owner department
    ("organizations.department", "publish_dataset"): STEWARDS,
    ("datapool.datastandard", "view"): ALL_ROLES,
    ("datapool.dataset", "view"): ALL_ROLES,
    ("datapool.dataset", "assets"): ALL_ROLES,
    ("datapool.dataset", "read"): ALL_ROLES,  # records (the owner's staff; grants come with data access)
    ("datapool.dataset", "report"): ALL_ROLES,  # push records through the API (integration keys are staff)
    ("datapool.dataset", "manage"): STEWARDS,  # metadata, mappings, uploads, sync sources, sharing out
    ("datapool.dataset", "contribute"): STEWARDS,  # share records into it (its leading group's members)
    ("datapool.columnmapping", "view"): ALL_ROLES,
    ("datapool.columnmapping", "manage"): STEWARDS,
    ("datapool.ingestionjob", "view"): ALL_ROLES,
    ("datapool.record", "view"): ALL_ROLES,
    ("datapool.syncsource", "view"): STEWARDS,
    ("datapool.syncsource", "manage"): STEWARDS,
    # on-demand data access: requests, approvals, grants, break-glass, demands, subscriptions
    ("organizations.department", "request_data"): STEWARDS,
    ("organizations.department", "emergency_access"): HEADS,
    ("access.datarequest", "view"): ALL_ROLES,
    ("access.datarequest", "edit"): STEWARDS,  # submit, withdraw
    ("access.datarequest", "decide_owner"): HEADS,
    ("access.datarequest", "decide_office"): HEADS,
    ("access.datagrant", "view"): ALL_ROLES,
    ("access.datagrant", "use"): ALL_ROLES,
    ("access.datagrant", "revoke"): HEADS,
    ("access.datagrant", "review"): HEADS,
    ("access.datademand", "view"): ALL_ROLES,
    ("access.datademand", "edit"): STEWARDS,
    ("access.subscription", "view"): ALL_ROLES,
    ("access.subscription", "edit"): STEWARDS,
    # early warning on pooled data: a department's rules, and the alerts raised to it
    ("organizations.department", "monitor"): STEWARDS,
    ("monitoring.monitoringrule", "view"): ALL_ROLES,
    ("monitoring.monitoringrule", "manage"): STEWARDS,
    ("monitoring.alert", "view"): ALL_ROLES,
    ("monitoring.alert", "handle"): frozenset({Role.HEAD, Role.STAFF}),
    # situation reports, after-action reviews and archives of an incident
    ("reporting.report", "view"): ALL_ROLES,
    ("reporting.report", "request"): frozenset({Role.HEAD, Role.STAFF}),
    ("reporting.reportschedule", "view"): ALL_ROLES,
    ("reporting.reportschedule", "manage"): frozenset({Role.HEAD, Role.STAFF}),
    ("reporting.archive", "view"): ALL_ROLES,
}


def roles_for(model, action: str) -> frozenset[str]:
    return ROLE_ACTIONS.get((model._meta.label_lower, action), frozenset())
