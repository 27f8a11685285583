"""What operators use: the CLI, configuration checks (doctor), maintenance jobs, log safety and
security events, the HTTP hardening every response gets (headers, error pages, request parsing),
and the database pool's connection checks.
"""
