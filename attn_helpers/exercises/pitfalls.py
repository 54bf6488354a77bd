"""Exercise checkers (being written)."""

__all__: list[str] = []
