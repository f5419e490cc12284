"""Stakeholder pages: selectors that fetch from TMI concurrently and shape plain-language summaries, views, charts."""
