"""`toxmod serve`: the HTTP API, Perspective-compatible so that tools written for Perspective need one new URL."""
