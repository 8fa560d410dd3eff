"""A handler module that raises when imported: ``load_handler`` must say so in one line."""

raise RuntimeError("broken at import")
