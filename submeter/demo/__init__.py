"""The demo park that `submeter demo` seeds and runs."""
