"""HTTP API: one router per resource, mounted under /api/v1 by `twin.app.create_app`."""
