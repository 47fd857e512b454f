"""Write schemas/event.schema.json from the Event classes (``--check``: fail if it differs).

python scripts/gen_schema.py          # regenerate
python scripts/gen_schema.py --check  # exit 1 when the committed file is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from streamer.events.envelope import json_schema

PATH = Path(__file__).resolve().parent.parent / "schemas" / "event.schema.json"


def render() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not PATH.exists() or PATH.read_text(encoding="utf-8") != text:
            print(f"{PATH} is stale: run `python scripts/gen_schema.py`", file=sys.stderr)
            return 1
        return 0
    PATH.write_text(text, encoding="utf-8")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
