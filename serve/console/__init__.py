"""The web console: a single-page app under ``/ui``, served by the API's own FastAPI app.

It is a client of ``/api/v1`` like any other: the browser signs in with the API token once
(``POST /ui/session``), gets a session cookie, and from then on calls the API with that cookie
and a CSRF header. The built app lies in ``static/`` (committed; its sources are in ``web/``,
see docs/console.md).
"""

from serve.console.routes import router

__all__ = ["router"]
