"""Browser tests: real Chromium, driven by Playwright, against the app and its demo provider."""
