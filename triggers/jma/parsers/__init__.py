"""One module per report family; each exposes ``parse(root, head) -> Event``."""
