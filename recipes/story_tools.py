"""Python steps of recipes/story.toml (loaded from the recipe's folder by `type = "python"`)."""

from __future__ import annotations


def titles(lines: list[str], count: int = 3) -> list[str]:
    """The outline writer's lines as `count` chapter titles (small models add chatter: drop it)."""
    picked = [line.strip(" \"'*") for line in lines if 0 < len(line) <= 80 and not line.endswith(":")]
    picked = [t for t in picked if t][:count]
    while len(picked) < count:
        picked.append(f"Chapter {len(picked) + 1}")
    return picked


def assemble(sections: list[str], titles: list[str], topic: str) -> str:
    """The synthesizer: a title line, then each chapter title with its section."""
    parts = [f"# A story about {topic}"]
    for title, text in zip(titles, sections, strict=True):
        parts.append(f"\n## {title}\n\n{text.strip()}")
    return "\n".join(parts) + "\n"
