"""Qt-free storage layer: the SQLite history database through SQLAlchemy 2."""
