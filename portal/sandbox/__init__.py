"""The TMI sandbox: a stand-in TMI server (ASGI) for the demo and the tests.

It behaves as ../shared/tmi/PROTOCOL.md describes, for TMI 1.8 or TMI 0.217, chosen at
start. Product code never imports this package.
"""
