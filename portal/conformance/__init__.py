"""Does a TMI server answer the way the portal relies on? (issue 14, section 4)

- `contract/`: TMI's official OpenAPI/AsyncAPI documents of each generation and their validators.
- `suite.py`: the checks, a plain function over TMI clients that returns `Check(name, outcome, detail)`s;
  every request and WebSocket frame is also held against the contract.
- `management/commands/tmi_conformance.py`: the operator's command (a thin printer).
- The tenant admin's "Test connection" runs the read-only subset with the admin's own token.

Pure Python apart from the management command: no Django below this package's top.
"""
