"""Knowing when the delivery engine stalls: heartbeats, the watcher, the engine alarm and metrics."""
