"""Subcommands of the `irc` command line, one module each."""
