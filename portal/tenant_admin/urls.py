from django.urls import path

from portal.tenant_admin import logos, move_views, schedule_views, views

app_name = "tenant_admin"

urlpatterns: list = [
    path("media/logos/<str:name>", logos.logo, name="logo"),  # public: logos show on sign-in pages
    path("o/<slug:slug>/admin/", views.members, name="members"),
    path("o/<slug:slug>/admin/invitations/", views.invite, name="invite"),
    path(
        "o/<slug:slug>/admin/invitations/<int:invitation_id>/resend/", views.invitation_resend, name="invitation_resend"
    ),
    path(
        "o/<slug:slug>/admin/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path("o/<slug:slug>/admin/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("o/<slug:slug>/admin/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("o/<slug:slug>/admin/domains/", views.domains, name="domains"),
    path("o/<slug:slug>/admin/tmi/", views.connection, name="connection"),
    path("o/<slug:slug>/admin/tmi/test/", views.connection_test, name="connection_test"),
    path("o/<slug:slug>/admin/tmi/credentials/", views.credentials, name="credentials"),
    path("o/<slug:slug>/admin/tmi/move/", move_views.tmi_move, name="tmi_move"),
    path("o/<slug:slug>/admin/tmi/move/cancel/", move_views.tmi_move_cancel, name="tmi_move_cancel"),
    path("o/<slug:slug>/admin/members/<int:membership_id>/relink/", views.member_relink_resend, name="member_relink"),
    path("o/<slug:slug>/admin/branding/", views.branding, name="branding"),
    path("o/<slug:slug>/admin/audit/", views.audit, name="audit"),
    path("o/<slug:slug>/admin/audit.csv", views.audit_csv, name="audit_csv"),
    path("o/<slug:slug>/admin/health/", views.health, name="health"),
    path("o/<slug:slug>/admin/schedules/", schedule_views.schedules, name="schedules"),
    path("o/<slug:slug>/admin/schedules/new/", schedule_views.schedule_create, name="schedule_create"),
    path("o/<slug:slug>/admin/schedules/<int:schedule_id>/", schedule_views.schedule_edit, name="schedule_edit"),
    path(
        "o/<slug:slug>/admin/schedules/<int:schedule_id>/pause/", schedule_views.schedule_pause, name="schedule_pause"
    ),
    path("o/<slug:slug>/admin/schedules/<int:schedule_id>/run/", schedule_views.schedule_run, name="schedule_run"),
    path(
        "o/<slug:slug>/admin/schedules/<int:schedule_id>/delete/",
        schedule_views.schedule_delete,
        name="schedule_delete",
    ),
    path("o/<slug:slug>/admin/schedules/<int:schedule_id>/runs/", schedule_views.schedule_runs, name="schedule_runs"),
]
