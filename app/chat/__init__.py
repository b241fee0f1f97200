"""Qt-free chat logic over storage and the engine client: one turn, the self-test."""
