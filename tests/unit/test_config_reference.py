from pathlib import Path

from streamer.config_reference import render_reference

REFERENCE = Path(__file__).parents[2] / "config" / "README.md"


def test_committed_reference_matches_the_models() -> None:
    assert REFERENCE.read_text() == render_reference(), (
        "config/README.md is stale: run `python -m streamer.config_reference > config/README.md`"
    )


def test_every_example_key_is_documented() -> None:
    import tomllib

    example = tomllib.loads((REFERENCE.parent / "streamer.example.toml").read_text())
    documented = render_reference()

    def walk(tree: dict[str, object], prefix: str) -> None:
        for key, value in tree.items():
            dotted = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(value, "teams.<team>" if dotted == "teams.acme" else dotted)
            else:
                assert f"`{dotted}`" in documented, dotted

    walk(example, "")
