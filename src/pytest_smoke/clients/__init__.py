"""Clients for the deployment's dependencies: plain code, no pytest, usable from a script."""
