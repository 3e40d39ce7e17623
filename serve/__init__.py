"""The Ray Serve application (HTTP API). Not built yet: see issue #5."""
