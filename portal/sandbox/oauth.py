"""Placeholder: being written."""


def routes(state):
    return []
