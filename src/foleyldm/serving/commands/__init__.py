"""CLI subcommands beyond generate/info, one module each (see serving/cli.py)."""
