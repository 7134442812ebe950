"""Capsule's client room: pacing within Capsule's hourly limit."""
