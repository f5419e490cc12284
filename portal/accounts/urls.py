from django.urls import path

from portal.accounts import views

app_name = "accounts"

urlpatterns = [
    path("o/<slug:slug>/login/", views.login, name="login"),
    path("o/<slug:slug>/logout/", views.logout, name="logout"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("relink/<str:token>/", views.relink, name="relink"),
]
