"""Capture: load a site in real Chromium and record what it does. Entry point: `Scanner.visit`."""

from lanterne.capture.browser import BrowserNotFound, find_browser
from lanterne.capture.scanner import Interaction, Scanner, VisitOptions, mark_parties

__all__ = ["BrowserNotFound", "Interaction", "Scanner", "VisitOptions", "find_browser", "mark_parties"]
