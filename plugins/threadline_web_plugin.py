"""Airflow plugin: the threadline steward web app under /threadline on Airflow's API server, linked
from the UI's Browse menu. Point Airflow's plugins folder here (AIRFLOW__CORE__PLUGINS_FOLDER)."""

from airflow.plugins_manager import AirflowPlugin

from threadline.airflow.web_plugin import plugin_attributes

_attributes = plugin_attributes()


class ThreadlineWebPlugin(AirflowPlugin):
    name = "threadline_web"
    fastapi_apps = _attributes["fastapi_apps"]
    external_views = _attributes["external_views"]
