import re


def rich_transcription_postprocess(text: str) -> str:
    return re.sub(r"<\|[^|]*\|>", "", text).strip()
