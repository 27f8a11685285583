"""The test suite: the client against small fake providers live on 127.0.0.1 (`fake_provider`);
the demo provider on its own (`demo_provider/`); and end to end (`e2e/`)."""
