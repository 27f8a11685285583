"""The test suite: pytest, against the demo provider served live on 127.0.0.1."""
