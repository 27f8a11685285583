"""The client's views, one blueprint per step of the flow: login, callback, profile (and health)."""
