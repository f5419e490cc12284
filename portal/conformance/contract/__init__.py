"""TMI's official contracts (OpenAPI, AsyncAPI) of each generation and the validators that hold an exchange or a
WebSocket frame against them; deviations.py lists where the real server's code knowingly differs from its own
documents. Pure Python (no Django): used by the conformance checks and by the tests."""
