"""Developer tools that are not part of the library (mutation testing)."""
