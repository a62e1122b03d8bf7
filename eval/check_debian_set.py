"""Check eval/debian.jsonl, the question set over the Debian Reference documents.

    python eval/check_debian_set.py [DOCS_DIR]

The same as ``python eval/collection.py check debian [--docs DOCS_DIR]`` (the checks are described there;
DOCS_DIR defaults to the folder eval/debian_reference.py lays out). Exits 1 on any failure.
"""
from __future__ import annotations

import sys
from pathlib import Path

EVAL = Path(__file__).resolve().parent
sys.path.insert(0, str(EVAL))

if __name__ == "__main__":
    from collection import check
    from debian_reference import default_out

    sys.exit(check("debian", Path(sys.argv[1]) if len(sys.argv) > 1 else default_out()))
