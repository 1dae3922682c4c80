from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("regions", views.RegionViewSet, basename="region")
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("agreements", views.AgreementViewSet, basename="agreement")
router.register("leading-groups", views.LeadingGroupViewSet, basename="leading-group")
urlpatterns = router.urls
