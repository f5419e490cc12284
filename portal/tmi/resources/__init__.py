"""The client's resources, grouped by area of the TMI API."""
