"""The CLI commands, one module per command family; ``afteraction.cli`` registers them."""
