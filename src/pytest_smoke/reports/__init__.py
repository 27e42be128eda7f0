"""Renderings of a gate decision: terminal block, JSON, JUnit properties, HTML, step summary."""
