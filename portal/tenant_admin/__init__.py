"""The tenant admin area: each organisation's owners and admins run it at /o/<slug>/admin/."""
