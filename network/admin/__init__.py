"""Listing maintenance for the network's admins and editors: audit log, moderation, imports."""
