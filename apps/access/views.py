"""Portal pages of on-demand data access (按需取用): requests and their approval, grants with the
time they have left, the records a grant opens (page and CSV), break-glass access and its review,
the demand board and subscriptions.

The same shape as the task pages: every write is a POST that finds its object through the list
selector (out of scope: 404), refuses a caller who may not act before it reads the form (403,
whatever they post), calls one service and redirects with a message (post/redirect/get). A form
with errors is rendered again with the messages on their fields, answering 400 (409 for a
conflict). Create forms name the department they act for; it is looked up among what the caller
sees (unseen: 404, recorded like any probe) and checked with the service's own permission before
the rest of the form is read (seen but not theirs: 403).

Records are read only through a grant valid at this very moment (or by the owner department):
every page and every export writes its ledger event through `services.read_record`; after expiry
or revocation the page answers 404 at once, as if it did not exist.
"""

from __future__ import annotations

import io
from datetime import datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.generic import ListView, TemplateView

from apps.accounts.selectors import user_is_verified
from apps.accounts.views import otp_verify_url
from apps.core.csv import csv_cell, csv_writer
from apps.core.exceptions import AccessDenied, SecondFactorRequired, ServiceError
from apps.core.scoping import authorize, authorize_any
from apps.core.views import (
    INVALID,
    ObjectActionMixin,
    ScopedDetailView,
    ScopedViewMixin,
    attach_error,
    hidden_lookup,
)
from apps.datapool.forms import field_label
from apps.datapool.models import Dataset
from apps.datapool.selectors import dataset_catalog
from apps.organizations import selectors as org_selectors
from apps.organizations.models import Department

from . import rowfilter, selectors, services
from .choices import ApprovalStage, Decision, DemandStatus, RequestStatus
from .forms import (
    ApproveForm,
    DataRequestForm,
    DemandCloseForm,
    DemandFilterForm,
    DemandForm,
    EmergencyAccessForm,
    RejectForm,
    ReviewForm,
    RevokeForm,
    SubscribeForm,
    WithdrawForm,
    requesting_departments,
)
from .models import DataDemand, DataGrant, DataRequest

RECORDS_PER_PAGE = 50
LIST_PAGE = 50
EXPORT_MAX_ROWS = 100_000  # beyond this, the bulk pull of the API (paged) is the way
WITHDRAWABLE = {RequestStatus.DRAFT, RequestStatus.SUBMITTED}


def may(user, action: str, obj) -> bool:
    """Whether `user` may `action` on `obj` (the service's own check, asked without raising)."""
    try:
        authorize(user, action, obj)
    except AccessDenied:
        return False
    return True


def time_left(until, now) -> str:
    """ "5 h 07 min" (hours and minutes, however many days that is); "" once it has passed."""
    seconds = int((until - now).total_seconds())
    if seconds <= 0:
        return ""
    hours, minutes = divmod(seconds // 60, 60)
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return str(value)


def _local(value: str) -> str:
    """An ISO timestamp from a stored snapshot, as the reader's language writes dates (2026年11月24日 21:15)."""
    try:
        return date_format(timezone.localtime(datetime.fromisoformat(str(value))), "SHORT_DATETIME_FORMAT")
    except (TypeError, ValueError):
        return str(value)


def filter_words(spec, standard) -> list[str]:
    """A row filter in words, one line per condition (all of which must hold)."""
    specs = {f["name"]: f for f in standard.fields}
    lines = []
    for cond in spec or []:
        name, op, value = cond.get("field"), cond.get("op"), cond.get("value")
        if name == rowfilter.REGION:
            lines.append(_("Division %(code)s and everything below it") % {"code": value})
            continue
        if name == rowfilter.OBSERVED:
            start, end = (value or ["", ""])[:2]
            lines.append(_("Observed from %(start)s until %(end)s") % {"start": _local(start), "end": _local(end)})
            continue
        label = field_label(specs[name]) if name in specs else str(name)
        if op == "in":
            text = _("%(field)s is one of: %(values)s")
        elif op == "gte":
            text = _("%(field)s is at least %(value)s")
        elif op == "lte":
            text = _("%(field)s is at most %(value)s")
        elif op == "between":
            text = _("%(field)s is between %(low)s and %(high)s")
        else:
            text = _("%(field)s equals %(value)s")
        low, high = (list(value) + ["", ""])[:2] if isinstance(value, list) else ("", "")
        lines.append(text % {"field": label, "value": _shown(value), "values": _shown(value), "low": low, "high": high})
    return lines


def field_labels(standard, names) -> list[str]:
    specs = {f["name"]: f for f in standard.fields}
    return [field_label(specs[n]) if n in specs else n for n in names or []]


def approver_rows(grant: DataGrant) -> list[dict]:
    """Who approved a grant, from the snapshot it keeps: the stage, the person as the portal names
    them (the snapshot holds the username), when, and whether a second factor verified them."""
    snapshot = [a for a in grant.approved_by or [] if isinstance(a, dict)]
    people = get_user_model().objects.in_bulk([a["user"] for a in snapshot if isinstance(a.get("user"), int)])
    return [
        {
            "stage": stage_label(a.get("stage", "")),
            "name": str(people.get(a.get("user")) or a.get("name", "")),
            "at": _local(a.get("at", "")),
            "second_factor": bool(a.get("second_factor")),
        }
        for a in snapshot
    ]


def stage_label(stage: str) -> str:
    if stage in ApprovalStage.values:
        return ApprovalStage(stage).label
    if stage == "emergency":
        return _("Emergency access (break-glass)")
    return stage


def looked_up_department(request, action: str) -> Department | None:
    """The department a create form names, checked before the rest of the form is read: unseen
    404 (recorded), seen but not one the caller may `action` for 403. None when the form names
    none (or names it badly): the form then says so."""
    raw = (request.POST.get("department") or "").strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return None
    try:
        department = org_selectors.department_get(user=request.user, pk=int(raw))
    except Department.DoesNotExist:
        hidden_lookup(request, Department, "pk", int(raw))
        raise Http404 from None
    authorize(request.user, action, department)
    return department


class AccessPageMixin:
    """What the data-access sub-navigation needs on every page."""

    here = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context |= {
            "here": self.here,
            "is_head_anywhere": org_selectors.user_heads_a_department(user=self.request.user),
        }
        return context


class NarrowedListView(AccessPageMixin, ScopedViewMixin, ListView):
    """A list read through `list_selector` (restricted) and narrowed by the page's own filters,
    which never widen it."""

    paginate_by = LIST_PAGE

    def narrow(self, queryset):
        return queryset

    def get(self, request, *args, **kwargs):
        self.object_list = self.narrow(self.get_queryset())
        return self.render_to_response(self.get_context_data())


# --- requests ------------------------------------------------------------------------------------


class DataRequestListView(NarrowedListView):
    """Requests my departments sent, and those they received (for their datasets, or as the
    information office over them), newest first; by side and by status."""

    list_selector = selectors.request_list
    template_name = "access/request_list.html"
    here = "requests"
    SIDES = ("sent", "received")

    def side(self) -> str:
        side = self.request.GET.get("side", "")
        return side if side in self.SIDES else ""

    def status(self) -> str:
        status = self.request.GET.get("status", "")
        return status if status in RequestStatus.values else ""

    def narrow(self, queryset):
        queryset = selectors.request_side(user=self.request.user, requests=queryset, side=self.side())
        if self.status():
            queryset = queryset.filter(status=self.status())
        return queryset

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {
            "side": self.side(),
            "status": self.status(),
            "statuses": RequestStatus.choices,
        }


class ApprovalQueueView(NarrowedListView):
    """Submitted requests waiting for a decision I may take (owner head or information office),
    oldest first: the first to arrive has waited longest."""

    list_selector = selectors.approval_queue
    template_name = "access/approval_queue.html"
    here = "queue"


def decision_state(user, req: DataRequest, decided: set[str]) -> tuple[bool, str]:
    """Whether `user` may decide the request's next stage now, else why not (shown on the page)."""
    if req.status != RequestStatus.SUBMITTED:
        return False, ""
    try:
        authorize_any(user, ("decide_owner", "decide_office"), req)
    except AccessDenied:
        return False, ""
    try:
        services.request_next_stage(user=user, request=req, decided=decided)
    except ServiceError as exc:
        return False, str(exc.message)
    return True, ""


class DataRequestDetailView(AccessPageMixin, ScopedDetailView):
    """A request: what is asked and why, its approval stages with their decisions, and the forms
    of whoever may act now (approve or reject for the stage's approver, withdraw for the
    requesting department while it is undecided)."""

    list_selector = selectors.request_list
    template_name = "access/request_detail.html"
    context_object_name = "req"
    here = "requests"
    FORMS = {"approve": ApproveForm, "reject": RejectForm, "withdraw": WithdrawForm}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, req = self.request.user, self.object
        approvals = list(req.approvals.select_related("decided_by", "department"))
        by_stage = {a.stage: a for a in approvals}
        stages = [
            {"stage": stage.value, "label": stage.label, "approval": by_stage.get(stage.value)}
            for stage in list(ApprovalStage)[: req.depth]
        ]
        can_decide, waiting = decision_state(user, req, set(by_stage))
        offered = set()
        if can_decide:
            offered |= {"approve", "reject"}
        if req.status in WITHDRAWABLE and may(user, "edit", req):
            offered.add("withdraw")
        bound = {name: kwargs[f"{name}_form"] for name in self.FORMS if kwargs.get(f"{name}_form") is not None}
        offered |= set(bound)
        standard = req.dataset.standard
        context |= {
            "stages": stages,
            "waiting": waiting,
            "offered": offered,
            "forms": {name: bound.get(name) or form() for name, form in self.FORMS.items() if name in offered},
            "clear_labels": field_labels(standard, req.fields),
            "masked_labels": field_labels(standard, req.masked_fields),
            "filter_lines": filter_words(req.row_filter, standard),
            "grant": selectors.grant_list(user=user).filter(request=req).first()
            if req.status in (RequestStatus.GRANTED, RequestStatus.EXPIRED, RequestStatus.REVOKED)
            else None,
        }
        return context


class RequestActionView(ObjectActionMixin, DataRequestDetailView):
    action = ""
    actions: tuple[str, ...] = ()

    def check(self) -> None:
        authorize_any(self.request.user, self.actions, self.object)

    def make_form(self):
        return self.FORMS[self.action](self.request.POST)

    def invalid(self, form, status: int):
        return self.render_to_response(self.get_context_data(**{f"{self.action}_form": form}), status=status)

    def detail_url(self):
        return reverse("portal:data-request-detail", kwargs={"pk": self.object.pk})

    def done_url(self):
        return self.detail_url()


class DataRequestApproveView(RequestActionView):
    """Approve a stage. For sensitive and secret data the session must be verified with a second
    factor: without it the approver is sent to the verify page and back to the request."""

    action = "approve"
    actions = ("decide_owner", "decide_office")
    second_factor_missing = False

    def perform(self, form):
        try:
            req = services.request_decide(
                actor=self.request.user,
                request=self.object,
                decision=Decision.APPROVE,
                reason=form.cleaned_data["reason"],
                second_factor=user_is_verified(self.request.user),
            )
        except SecondFactorRequired:
            self.second_factor_missing = True
            raise
        self.success_message = (
            _("Approved: access is granted.")
            if req.status == RequestStatus.GRANTED
            else _("Approved. The next approver has been told.")
        )

    def invalid(self, form, status: int):
        if self.second_factor_missing:
            messages.warning(
                self.request,
                _("Approving access to sensitive data needs your authenticator code. Enter it, then approve."),
            )
            return redirect(otp_verify_url(self.detail_url()))
        return super().invalid(form, status)


class DataRequestRejectView(RequestActionView):
    action = "reject"
    actions = ("decide_owner", "decide_office")
    success_message = gettext_lazy("Request rejected. The requesting department has been told why.")

    def perform(self, form):
        services.request_decide(
            actor=self.request.user, request=self.object, decision=Decision.REJECT, reason=form.cleaned_data["reason"]
        )


class DataRequestWithdrawView(RequestActionView):
    action = "withdraw"
    actions = ("edit",)
    success_message = gettext_lazy("Request withdrawn.")

    def perform(self, form):
        services.request_withdraw(actor=self.request.user, request=self.object, reason=form.cleaned_data["reason"])


class DataRequestCreateView(AccessPageMixin, ScopedViewMixin, TemplateView):
    """Ask for a dataset (?dataset=<id>, from the catalog): its quality and freshness, the
    standard's fields in clear or masked (sensitive ones masked unless changed), a row filter,
    purpose, legal basis, incident and duration. The hidden idempotency key goes to the service:
    a double click or a reload lands on the first request instead of a second one."""

    list_selector = dataset_catalog
    template_name = "access/request_form.html"
    here = "requests"

    def dataset(self) -> Dataset | None:
        raw = (self.request.POST.get("dataset") or self.request.GET.get("dataset") or "").strip()
        if not raw:
            return None
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise Http404
        dataset = self.get_queryset().filter(pk=int(raw)).first()
        if dataset is None:
            hidden_lookup(self.request, Dataset, "pk", int(raw))
            raise Http404
        return dataset

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        dataset = context.get("dataset")
        if dataset is not None:
            context["owned"] = selectors.department_is_mine(user=self.request.user, department_id=dataset.owner_id)
        return context

    def get(self, request, *args, **kwargs):
        dataset = self.dataset()
        form = DataRequestForm(user=request.user, dataset=dataset) if dataset is not None else None
        return self.render_to_response(self.get_context_data(dataset=dataset, form=form))

    def post(self, request, *args, **kwargs):
        looked_up_department(request, "request_data")  # first: a refusal names the department
        dataset = self.dataset()
        if dataset is None:
            raise Http404
        form = DataRequestForm(request.POST, user=request.user, dataset=dataset)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                req = services.request_create(
                    actor=request.user,
                    department=data["department"],
                    dataset=dataset,
                    fields=list(data["fields"]),
                    masked_fields=list(data["masked_fields"]),
                    row_filter=data["row_filter_spec"],
                    purpose=data["purpose"],
                    legal_basis=data["legal_basis"],
                    duration_hours=data["duration_hours"],
                    incident=data["incident"],
                    idempotency_key=data["idempotency_key"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(request, _("Request sent to the owner department for approval."))
                return redirect("portal:data-request-detail", pk=req.pk)
        return self.render_to_response(self.get_context_data(dataset=dataset, form=form), status=status)


# --- grants --------------------------------------------------------------------------------------


class DataGrantListView(NarrowedListView):
    """Grants my departments hold and may use now, with the time they have left; expired and
    revoked ones are not shown. The one that ends first comes first."""

    list_selector = selectors.my_grants
    template_name = "access/grant_list.html"
    here = "grants"
    side = ""

    def narrow(self, queryset):
        return queryset.order_by("valid_until", "id")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        context |= {
            "side": self.side,
            "rows": [{"grant": g, "left": time_left(g.valid_until, now)} for g in context["object_list"]],
        }
        return context


class IssuedGrantListView(DataGrantListView):
    """Valid grants other departments hold on our datasets (or on those under our information
    office): what the owner may revoke."""

    list_selector = selectors.grant_list
    side = "issued"

    def narrow(self, queryset):
        issued = selectors.grant_side(user=self.request.user, grants=queryset, side="issued")
        return issued.filter(DataGrant.active_q()).order_by("valid_until", "id")


class DataGrantDetailView(AccessPageMixin, ScopedDetailView):
    """A grant: fields in clear and masked, the row filter in words, purpose, incident, who
    approved, valid until (and time left), the emergency flag and its review, revocation."""

    list_selector = selectors.grant_list
    template_name = "access/grant_detail.html"
    context_object_name = "grant"
    here = "grants"
    FORMS = {"revoke": RevokeForm, "review": ReviewForm}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, grant = self.request.user, self.object
        now = timezone.now()
        active = grant.is_active(now)
        offered = set()
        if grant.revoked_at is None and grant.valid_until > now and may(user, "revoke", grant):
            offered.add("revoke")
        if grant.is_emergency and grant.reviewed_at is None and may(user, "review", grant):
            offered.add("review")
        bound = {name: kwargs[f"{name}_form"] for name in self.FORMS if kwargs.get(f"{name}_form") is not None}
        offered |= set(bound)
        standard = grant.dataset.standard
        holder = active and selectors.department_is_mine(user=user, department_id=grant.department_id)
        context |= {
            "active": active,
            "left": time_left(grant.valid_until, now) if active else "",
            "offered": offered,
            "forms": {name: bound.get(name) or form() for name, form in self.FORMS.items() if name in offered},
            "clear_labels": field_labels(standard, grant.fields),
            "masked_labels": field_labels(standard, grant.masked_fields),
            "filter_lines": filter_words(grant.row_filter, standard),
            "approvers": approver_rows(grant),
            "may_read": holder,
            "may_follow": holder
            and may(user, "request_data", grant.department)
            and not selectors.subscription_list(user=user)
            .filter(dataset=grant.dataset, department=grant.department)
            .exists(),
        }
        return context


class GrantActionView(ObjectActionMixin, DataGrantDetailView):
    action = ""

    def check(self) -> None:
        authorize(self.request.user, self.action, self.object)

    def make_form(self):
        return self.FORMS[self.action](self.request.POST)

    def invalid(self, form, status: int):
        return self.render_to_response(self.get_context_data(**{f"{self.action}_form": form}), status=status)

    def detail_url(self):
        return reverse("portal:data-grant-detail", kwargs={"pk": self.object.pk})

    def done_url(self):
        return self.detail_url()


class DataGrantRevokeView(GrantActionView):
    action = "revoke"
    success_message = gettext_lazy("Access revoked: the department can no longer read the data.")

    def perform(self, form):
        services.grant_revoke(actor=self.request.user, grant=self.object, reason=form.cleaned_data["reason"])


class DataGrantReviewView(GrantActionView):
    action = "review"
    success_message = gettext_lazy("Review recorded.")

    def perform(self, form):
        services.emergency_access_review(
            actor=self.request.user,
            grant=self.object,
            approve=form.cleaned_data["outcome"] == ReviewForm.KEEP,
            note=form.cleaned_data["note"],
        )


# --- granted records -----------------------------------------------------------------------------


def _bound(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) <= 18 else None


class GrantedRecordsView(AccessPageMixin, ScopedDetailView):
    """The records of a dataset as a grant lets my department see them: its rows only (the row
    filter), fields in clear, masked fields masked, other fields absent; the owner department
    sees its own records whole. 50 at a time in id order (keyset paging). No valid grant at this
    moment (expired, revoked, its incident closed): 404. Every page is a `data.read` in the ledger."""

    list_selector = dataset_catalog
    template_name = "access/records.html"
    context_object_name = "dataset"
    here = "grants"

    def readable(self):
        """(grant or None, presenter); records of a dataset one may not read do not exist (404)."""
        try:
            grant = selectors.grant_for_reading(user=self.request.user, dataset=self.object)
        except AccessDenied as exc:
            raise AccessDenied(action=exc.action, target=self.object, hidden=True) from None
        return grant, selectors.presenter_for(grant, self.object)

    def header(self, presenter) -> list[dict]:
        specs = {f["name"]: f for f in self.object.standard.fields}
        masked = {name for name, _mask in presenter.masked}
        return [{"name": n, "label": field_label(specs[n]), "masked": n in masked} for n in presenter.columns]

    def records(self, grant):
        records = selectors.grant_records(user=self.request.user, dataset=self.object, grant=grant)
        return records.only("id", "payload")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        grant, presenter = self.readable()
        records = self.records(grant)
        after, before = _bound(self.request.GET.get("after")), _bound(self.request.GET.get("before"))
        if before is not None:
            page = list(records.filter(id__lt=before).order_by("-id")[: RECORDS_PER_PAGE + 1])
            has_prev = len(page) > RECORDS_PER_PAGE
            page = list(reversed(page[:RECORDS_PER_PAGE]))
            has_next = True
        else:
            query = records.filter(id__gt=after) if after is not None else records
            page = list(query[: RECORDS_PER_PAGE + 1])
            has_next = len(page) > RECORDS_PER_PAGE
            page = page[:RECORDS_PER_PAGE]
            has_prev = after is not None
        columns = self.header(presenter)
        rows = []
        for record in page:
            shown = presenter(record.payload or {})
            rows.append({"pk": record.pk, "cells": [(c["label"], _shown(shown.get(c["name"]))) for c in columns]})
        services.read_record(
            actor=self.request.user,
            dataset=self.object,
            grant=grant,
            query={"view": "page", "after": after, "before": before, "size": RECORDS_PER_PAGE},
            rows=len(page),
        )
        now = timezone.now()
        context |= {
            "grant": grant,
            "left": time_left(grant.valid_until, now) if grant is not None else "",
            "columns": columns,
            "rows": rows,
            "next_after": page[-1].pk if page and has_next else None,
            "prev_before": page[0].pk if page and has_prev else None,
            "paged": has_prev,
        }
        return context


class GrantedRecordsCsvView(GrantedRecordsView):
    """The same records as CSV (UTF-8 with BOM; formula-safe cells): one `data.export` event in
    the ledger with the row count and the SHA-256 of exactly the bytes sent."""

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        grant, presenter = self.readable()
        columns = self.header(presenter)
        rows = list(self.records(grant).values_list("id", "payload")[: EXPORT_MAX_ROWS + 1])
        if len(rows) > EXPORT_MAX_ROWS:
            message = _("More than %(n)d records: narrow the request, or use the API's paged bulk pull.") % {
                "n": EXPORT_MAX_ROWS
            }
            return HttpResponse(message, status=INVALID, content_type="text/plain; charset=utf-8")
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv_writer(out)
        writer.writerow(
            ["#", *[_("%(field)s (masked)") % {"field": c["label"]} if c["masked"] else c["label"] for c in columns]]
        )
        for pk, payload in rows:
            shown = presenter(payload or {})
            writer.writerow([pk, *[csv_cell(_shown(shown.get(c["name"]))) for c in columns]])
        content = out.getvalue().encode("utf-8")
        services.read_record(
            actor=request.user,
            dataset=self.object,
            grant=grant,
            query={"view": "csv"},
            rows=len(rows),
            export=True,
            content=content,
        )
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="dataset-{self.object.pk}-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response


# --- break-glass ---------------------------------------------------------------------------------


class EmergencyAccessCreateView(AccessPageMixin, ScopedViewMixin, TemplateView):
    """Break-glass (紧急调用) for department heads on an active severity I/II incident."""

    list_selector = dataset_catalog
    template_name = "access/emergency_form.html"
    here = "emergency"

    def get(self, request, *args, **kwargs):
        initial = {}
        raw = request.GET.get("dataset", "")
        if raw.isascii() and raw.isdigit() and len(raw) <= 18:
            initial["dataset"] = int(raw)
        form = EmergencyAccessForm(user=request.user, initial=initial)
        return self.render_to_response(self.get_context_data(form=form))

    def post(self, request, *args, **kwargs):
        looked_up_department(request, "emergency_access")
        form = EmergencyAccessForm(request.POST, user=request.user)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                grant = services.emergency_access_open(
                    actor=request.user,
                    department=data["department"],
                    dataset=data["dataset"],
                    incident=data["incident"],
                    justification=data["justification"],
                    hours=data["hours"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.warning(
                    request,
                    _(
                        "Emergency access opened. The owner and the information office have been told "
                        "and will review it."
                    ),
                )
                return redirect("portal:data-grant-detail", pk=grant.pk)
        return self.render_to_response(self.get_context_data(form=form), status=status)


class EmergencyReviewListView(NarrowedListView):
    list_selector = selectors.emergency_review_queue
    template_name = "access/emergency_reviews.html"
    here = "reviews"

    def narrow(self, queryset):
        return queryset.order_by("valid_from", "id")


# --- demands -------------------------------------------------------------------------------------


class DemandListView(NarrowedListView):
    """The demand board (匹配供求): what departments need, with the datasets suggested to them;
    providers can keep to demands that match their own datasets."""

    list_selector = selectors.demand_board
    template_name = "access/demand_list.html"
    here = "demands"

    def filter_form(self) -> DemandFilterForm:
        data = self.request.GET if "status" in self.request.GET else {"status": "open"}
        form = DemandFilterForm(data)
        form.is_valid()
        return form

    def narrow(self, queryset):
        self.filters = self.filter_form()
        status = self.filters.cleaned_data.get("status")
        if status:
            queryset = queryset.filter(status=status)
        if self.filters.cleaned_data.get("matching"):
            queryset = selectors.demand_matching(user=self.request.user, demands=queryset)
        suggested = dataset_catalog(user=self.request.user).prefetch_related(None).select_related("owner")
        return queryset.prefetch_related(Prefetch("suggested", queryset=suggested.order_by("title")))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = [d.pk for d in context["object_list"]]
        editable = set(
            DataDemand.objects.restrict(self.request.user, "edit").filter(pk__in=page).values_list("pk", flat=True)
        )
        context |= {
            "filters": self.filters,
            "editable": editable,
            "close_form": DemandCloseForm(),
            "open_status": DemandStatus.OPEN,
            "may_post": requesting_departments(self.request.user).exists(),
        }
        return context


class DemandCreateView(AccessPageMixin, ScopedViewMixin, TemplateView):
    list_selector = selectors.demand_board
    template_name = "access/demand_form.html"
    here = "demands"

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=DemandForm(user=request.user)))

    def post(self, request, *args, **kwargs):
        looked_up_department(request, "request_data")
        form = DemandForm(request.POST, user=request.user)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                demand = services.demand_post(
                    actor=request.user,
                    department=data["department"],
                    title=data["title"],
                    description=data["description"],
                    standard_code=data["standard_code"],
                    tags=list(data["tags"]),
                    incident=data["incident"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                found = demand.suggested.count()
                messages.success(
                    request,
                    _("Demand posted. %(n)d dataset(s) in the catalog may already meet it.") % {"n": found}
                    if found
                    else _("Demand posted. Providers whose datasets match will be told."),
                )
                return redirect(reverse("portal:data-demand-list") + f"#demand-{demand.pk}")
        return self.render_to_response(self.get_context_data(form=form), status=status)


class DemandCloseView(ObjectActionMixin, AccessPageMixin, ScopedDetailView):
    """Close my department's demand: met, or closed without the data."""

    list_selector = selectors.demand_board
    success_message = gettext_lazy("Demand closed.")

    def check(self) -> None:
        authorize(self.request.user, "edit", self.object)

    def make_form(self):
        return DemandCloseForm(self.request.POST)

    def invalid(self, form, status: int):
        for errors in form.errors.values():
            for error in errors:
                messages.error(self.request, error)
        return redirect(self.detail_url())

    def perform(self, form):
        services.demand_close(
            actor=self.request.user, demand=self.object, met=form.cleaned_data["outcome"] == DemandCloseForm.MET
        )

    def detail_url(self):
        return reverse("portal:data-demand-list") + f"#demand-{self.object.pk}"

    def done_url(self):
        return self.detail_url()


# --- subscriptions -------------------------------------------------------------------------------


class SubscriptionListView(NarrowedListView):
    """What my departments follow (数字订阅): datasets they hold a grant on (or own), incidents;
    and the form to follow one more."""

    list_selector = selectors.subscription_list
    template_name = "access/subscription_list.html"
    here = "subscriptions"

    def narrow(self, queryset):
        return queryset.select_related("dataset__owner", "incident", "department__region")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        page = [s.pk for s in context["object_list"]]
        editable = self.editable(page)
        form = kwargs.get("form") or SubscribeForm(user=self.request.user)
        return context | {"editable": editable, "form": form}

    def editable(self, pks) -> set[int]:
        from .models import Subscription

        return set(
            Subscription.objects.restrict(self.request.user, "edit").filter(pk__in=pks).values_list("pk", flat=True)
        )


class SubscribeView(SubscriptionListView):
    http_method_names = ["post", "options"]

    def post(self, request, *args, **kwargs):
        looked_up_department(request, "request_data")
        form = SubscribeForm(request.POST, user=request.user)
        status = INVALID
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.subscribe(
                    actor=request.user,
                    department=data["department"],
                    dataset=data["dataset"],
                    incident=data["incident"],
                )
            except ServiceError as exc:
                status = attach_error(form, exc)
            else:
                messages.success(request, _("Following. New records and changes will reach your inbox."))
                return redirect(self._grant_url() or reverse("portal:data-subscription-list"))
        self.object_list = self.narrow(self.get_queryset())
        return self.render_to_response(self.get_context_data(form=form), status=status)

    def _grant_url(self) -> str:
        raw = self.request.POST.get("next_grant", "")
        if raw.isascii() and raw.isdigit() and len(raw) <= 18:
            return reverse("portal:data-grant-detail", kwargs={"pk": int(raw)})
        return ""


class UnsubscribeView(ObjectActionMixin, AccessPageMixin, ScopedDetailView):
    list_selector = selectors.subscription_list
    success_message = gettext_lazy("No longer following.")

    def check(self) -> None:
        authorize(self.request.user, "edit", self.object)

    def perform(self, form):
        services.unsubscribe(actor=self.request.user, subscription=self.object)

    def invalid(self, form, status: int):  # pragma: no cover - a button without fields
        return redirect(self.detail_url())

    def detail_url(self):
        return reverse("portal:data-subscription-list")

    def done_url(self):
        return self.detail_url()
