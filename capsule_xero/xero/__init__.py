"""Xero's client room: sign-in, the token store, pacing within Xero's limits and the daily budget."""
