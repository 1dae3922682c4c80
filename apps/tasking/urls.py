"""Portal routes for tasks. Included by apps.portal.urls under "tasks/" without a namespace of its
own, so every name is `portal:task-…` / `portal:scorecard…`. Notifications link to /tasks/<pk>/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.TaskInboxView.as_view(), name="task-inbox"),
    path("board/", views.TaskBoardView.as_view(), name="task-board"),
    path("new/", views.TaskCreateView.as_view(), name="task-create"),
    path("scorecard/", views.ScorecardView.as_view(), name="scorecard"),
    path("scorecard.csv", views.ScorecardCsvView.as_view(), name="scorecard-csv"),
    path("<int:pk>/", views.TaskDetailView.as_view(), name="task-detail"),
    path("<int:pk>/accept/", views.TaskAcceptView.as_view(), name="task-accept"),
    path("<int:pk>/decline/", views.TaskDeclineView.as_view(), name="task-decline"),
    path("<int:pk>/transfer/", views.TaskTransferRequestView.as_view(), name="task-transfer-request"),
    path("<int:pk>/transfer/accept/", views.TaskTransferAcceptView.as_view(), name="task-transfer-accept"),
    path("<int:pk>/transfer/refuse/", views.TaskTransferRefuseView.as_view(), name="task-transfer-refuse"),
    path("<int:pk>/start/", views.TaskStartView.as_view(), name="task-start"),
    path("<int:pk>/progress/", views.TaskProgressView.as_view(), name="task-progress"),
    path("<int:pk>/complete/", views.TaskCompleteView.as_view(), name="task-complete"),
    path("<int:pk>/verify/", views.TaskVerifyView.as_view(), name="task-verify"),
    path("<int:pk>/return/", views.TaskReturnView.as_view(), name="task-return"),
    path("<int:pk>/reassign/", views.TaskReassignView.as_view(), name="task-reassign"),
    path("<int:pk>/overrule/", views.TaskOverruleView.as_view(), name="task-overrule"),
    path("<int:pk>/cancel/", views.TaskCancelView.as_view(), name="task-cancel"),
    path("<int:pk>/dispute/", views.TaskDisputeView.as_view(), name="task-dispute"),
    path("<int:pk>/rule/", views.TaskRuleView.as_view(), name="task-rule"),
    path("<int:pk>/comments/", views.TaskCommentView.as_view(), name="task-comment"),
]
