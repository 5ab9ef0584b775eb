"""The command line for people and scripts (`coreviz-studio login`, `media upload`, ...): it
speaks to a server over HTTP through the typed client only (docs/cli.md)."""
