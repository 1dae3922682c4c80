"""Portal routes for the caller's own account security. Included by apps.portal.urls under
"account/" without a namespace of its own, so every name is `portal:…`."""

from django.urls import path

from . import views

urlpatterns = [
    path("security/", views.AccountSecurityView.as_view(), name="account-security"),
    path("security/authenticator/", views.OtpEnrolView.as_view(), name="otp-enrol"),
    path("security/backup-codes/", views.OtpBackupCodesView.as_view(), name="otp-backup-codes"),
    path("verify/", views.OtpVerifyView.as_view(), name="otp-verify"),
]
