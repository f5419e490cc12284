"""Who is live right now: one row per open browser socket bridged to TMI.

The token-refresh task reads it (a member with an open live session keeps working without a page
load), and the consumer deletes its row when the socket closes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LiveConnection(models.Model):
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="live_connections"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="live_connections")
    threat_model_id = models.UUIDField()
    diagram_id = models.UUIDField()
    channel_name = models.CharField(max_length=200, unique=True)
    # This connection's own role as its own TMI session says, shared with the others bridged into the same
    # diagram (TMI's participant lists are only right about the caller: portal/tmi/collab/translate.py).
    tmi_user_id = models.CharField(max_length=255, blank=True)
    can_edit = models.BooleanField(null=True)
    opened_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} live on {self.diagram_id}"
