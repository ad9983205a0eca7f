"""Framework-free domain logic: plain Python that the web, CLI and workers all share."""
