"""A bounded in-process cache of chunks read back from the store by id.

Each answer reads the text, metadata and vector of a few hundred chunks by id (the keyword-only hits, and
every chunk of the leading papers); on a laptop-sized collection that read is a third of a warm question.
A chunk id carries its paper's content hash (``paper:hash:n``), so the record behind an id never changes: a
replaced paper's chunks get new ids, and a deleted chunk is no longer named by the keyword index or a paper's
chunk count. Entries are dropped oldest first beyond ``capacity`` (about 2 KB each).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Record = tuple[str, dict[str, Any], np.ndarray]  # text, metadata, vector
Read = Callable[[list[str]], dict[str, Record]]  # ids -> the records the store holds (missing ids left out)


class ChunkCache:
    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._records: OrderedDict[str, Record] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, ids: Sequence[str], read: Read) -> dict[str, Record]:
        """The records of ``ids``: cached ones at once, the others through one ``read`` call."""
        with self._lock:
            found = {i: self._records[i] for i in ids if i in self._records}
            for chunk_id in found:
                self._records.move_to_end(chunk_id)
        missing = [i for i in ids if i not in found]
        if missing:
            fresh = read(missing)
            found.update(fresh)
            with self._lock:
                self._records.update(fresh)
                while len(self._records) > self.capacity:
                    self._records.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
