"""The local web app (`lanterne serve`). Entry point: `create_app`."""

from lanterne.web.app import AppSettings, create_app

__all__ = ["AppSettings", "create_app"]
