"""Python steps for flows.toml."""


def words(text):
    return text.split()


def count(ws):
    return len(ws)


def upper(word):
    return word.upper()


def size(value):
    return "small" if value["count"] < 5 else "big"


def describe(value, query, version):
    return f"{value['count']} words in {query!r}: {'-'.join(value['upper'])} (first {version[0]})"


def exclaim(text):
    return text + "!"


def stamp(text, version):
    return f"{text} [{version.strip()}]"


def boom(text):
    if "boom" in text:
        raise ValueError("a bug in a python step")
    return text
