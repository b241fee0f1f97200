"""The engine: a child process that owns llama.cpp, and the GUI-side client that drives it.

``worker`` runs in the child and imports llama_cpp; ``client`` runs in the GUI process and
never imports llama_cpp. Neither imports Qt.
"""
