"""Start the amqa chat web UI: python app.py [--host 127.0.0.1] [--port 7860] [--docs DIR] [--store DIR] [-k N]

Same as `amqa serve` (see `amqa serve --help`). Needs the UI extra: pip install -e '.[ui]'.
"""
import sys

from amqa.frontends.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
