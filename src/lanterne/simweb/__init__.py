"""The simulated web: demo sites and their third parties on a loopback HTTPS server."""

from lanterne.simweb.server import Router, SimRequest, SimResponse, SimulatedWeb
from lanterne.simweb.sites import DEMO_SITES, demo_router

__all__ = ["DEMO_SITES", "Router", "SimRequest", "SimResponse", "SimulatedWeb", "demo_router"]
