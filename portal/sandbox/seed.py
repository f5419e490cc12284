"""Placeholder: being written."""


def load(state, name):
    return None
