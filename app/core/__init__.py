"""Qt-free domain layer: paths, settings, errors, the engine protocol, the model library."""
