"""Live diagrams: the browser socket bridged to a TMI collaboration session, and the live page."""
