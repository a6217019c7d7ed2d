"""Lanterne: measure what websites and platforms collect about their visitors, with evidence."""

__version__ = "0.1.0"
