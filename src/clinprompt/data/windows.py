"""Tokenize a note once and cut it into overlapping token windows that map back to characters.

Every token belongs to exactly one window's *owned* region (the middle of its overlap with the
neighbours), so a span predicted by two overlapping windows is kept once: by the window that owns
its first token. A gold span cut by one window's edge lies whole inside the next window as long as
it is shorter than half the overlap.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cached_property

from clinprompt.data.document import Document, Fragment


@dataclass(frozen=True)
class TokenizedDoc:
    doc_id: str
    input_ids: tuple[int, ...]
    offsets: tuple[Fragment, ...]  # character span of every token

    def __len__(self) -> int:
        return len(self.input_ids)

    def char_to_tokens(self, start: int, end: int) -> tuple[int, int] | None:
        """First and last token (inclusive) overlapping [start, end), or None if no token does."""
        first = bisect_right(self._ends, start)
        last = bisect_left(self._starts, end) - 1
        if first >= len(self.offsets) or last < first:
            return None
        return first, last

    @cached_property
    def _starts(self) -> list[int]:
        return [s for s, _ in self.offsets]

    @cached_property
    def _ends(self) -> list[int]:
        return [e for _, e in self.offsets]

    def tokens_to_char(self, first: int, last: int) -> Fragment:
        return self.offsets[first][0], self.offsets[last][1]


def tokenize_document(doc: Document, tokenizer) -> TokenizedDoc:
    enc = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offs = [], []
    for tid, (s, e) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
        if e > s:  # drop zero-width tokens: they cannot anchor a character span
            ids.append(tid)
            offs.append((s, e))
    return TokenizedDoc(doc.doc_id, tuple(ids), tuple(offs))


@dataclass(frozen=True)
class Window:
    index: int
    start: int  # first token (inclusive)
    end: int  # last token (exclusive)
    own_start: int
    own_end: int

    def owns(self, token: int) -> bool:
        return self.own_start <= token < self.own_end


def make_windows(n_tokens: int, size: int, stride: int) -> list[Window]:
    if size < 1 or not 0 < stride <= size:
        raise ValueError(f"window size {size} and stride {stride}: need 0 < stride <= size")
    if n_tokens <= size:
        return [Window(0, 0, n_tokens, 0, n_tokens)]
    starts = list(range(0, n_tokens - size, stride)) + [n_tokens - size]
    starts = sorted(set(starts))
    windows = []
    for i, s in enumerate(starts):
        e = s + size
        # hand over at the middle of the overlap with the next window
        own_s = 0 if i == 0 else windows[-1].own_end
        own_e = n_tokens if i == len(starts) - 1 else (e + starts[i + 1]) // 2
        windows.append(Window(i, s, e, own_s, own_e))
    return windows
