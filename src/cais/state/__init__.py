"""Durable state shared by the rooms: a SQLite database under the cais root."""
