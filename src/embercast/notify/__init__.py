"""Notifications: recipients and their routing, sending through Apprise URLs, and a durable
outbox that sends each event to each recipient exactly once, retrying and recording every
attempt."""
