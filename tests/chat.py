"""Chat requests as lmms-eval hands them to the model ids (chat models): (context,
doc_to_messages, generation kwargs, doc_id, task, split)."""

from __future__ import annotations

from types import SimpleNamespace

QUESTION = "Which? A. a B. b"


def chat_request(video: object, text: str = QUESTION, doc_id: int = 0, task: str = "seats_fixture_mcq",
                 max_new_tokens: int = 3, system: str | None = None) -> SimpleNamespace:
    """One request for `video`; `system` is the task's system turn (None: no system turn)."""

    def doc_to_messages(doc: dict) -> list[dict]:
        turns = [] if system is None else [{"role": "system", "content": [{"type": "text", "text": system}]}]
        return turns + [{"role": "user", "content": [{"type": "video", "url": str(video)},
                                                     {"type": "text", "text": text}]}]

    return SimpleNamespace(args=(text, doc_to_messages, {"max_new_tokens": max_new_tokens}, doc_id, task, "test"))
