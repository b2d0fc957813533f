"""``python -m embercast.cli``: the same command line as ``embercast``."""

from embercast.cli import app

if __name__ == "__main__":
    app()
