"""Pure functions on ``(..., 12, T)`` arrays plus ``fs``; nothing here reads files."""
