"""The steward web app inside Airflow 3: an ASGI app for a plugin's ``fastapi_apps`` and the links
Airflow's UI shows for it (``external_views``).

Airflow loads plugins in every component at start-up, so nothing is read here until the first request:
the app is built then from ``$THREADLINE_CONFIG`` (the warehouse) and ``$THREADLINE_WEB_SECRET``, and
keeps its own sign-in and roles (Airflow's users are not threadline's).
"""

from __future__ import annotations

import threading

URL_PREFIX = "/threadline"


class LazyStewardApp:
    """An ASGI app that builds the steward web app on its first request."""

    def __init__(self) -> None:
        self._app = None
        self._lock = threading.Lock()

    def _build(self):
        from threadline.config import load_config
        from threadline.web.app import create_app, settings_from_env

        config = load_config(check_specs=False)  # $THREADLINE_CONFIG
        return create_app(settings_from_env(config.warehouse.resolved_url(), reports_dir=config.reports_dir))

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":  # a mounted app gets none; answer one if it comes anyway
            message = await receive()
            await send({"type": f"{message['type']}.complete"})
            return
        if self._app is None:
            with self._lock:
                if self._app is None:
                    try:
                        self._app = self._build()
                    except Exception as exc:  # noqa: BLE001 - shown to the admin instead of a bare 500
                        from starlette.responses import PlainTextResponse

                        response = PlainTextResponse(f"the threadline steward app cannot start: {exc}", 503)
                        await response(scope, receive, send)
                        return
        await self._app(scope, receive, send)


def plugin_attributes() -> dict:
    """What the Airflow plugin declares: the mounted app and its link in Airflow's navigation."""
    return {
        "fastapi_apps": [{"app": LazyStewardApp(), "url_prefix": URL_PREFIX, "name": "threadline steward app"}],
        "external_views": [{"name": "threadline steward app", "href": f"{URL_PREFIX}/queue", "destination": "nav",
                            "category": "browse", "url_route": "threadline"}],
    }
