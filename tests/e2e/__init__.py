"""End-to-end tests: the demo provider live on 127.0.0.1 over HTTP, gunicorn on PostgreSQL, and
Chromium. They need `demo_provider/` (and what each says it needs); the client's own tests do not.
"""
