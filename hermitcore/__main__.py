from hermitcore.cli import entry

entry()
