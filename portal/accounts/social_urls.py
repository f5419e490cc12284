"""The social-auth callback, under /auth/ (namespace "social", as social_django names it).

Only the completion view is exposed, wrapped (signin.py): sign-ins start from an organisation's
sign-in page, never from social_django's generic begin view.
"""

from django.urls import path

from portal.accounts import views

app_name = "social"

urlpatterns = [
    path("complete/<str:backend>/", views.complete, name="complete"),
    # A sign-in TMI asked to wait, continued by the "TMI is busy" page (signin_waiting.py).
    path("complete/<str:backend>/continue/", views.complete_continue, name="continue"),
]
