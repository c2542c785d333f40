"""Residents as people, not CSV lines: registration, preferences, opt-out, answers, languages."""
