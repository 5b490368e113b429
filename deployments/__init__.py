"""Deployments of the flows and their schedules."""
