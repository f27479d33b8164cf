"""A segment evaluator that takes its time on one genome: to watch a submit map hand out jobs
while a slow one runs. Importable by worker processes (no pytest needed)."""

from __future__ import annotations

import time

from nastoolkit.nas.continuation import SegmentEvaluator
from nastoolkit.nas.genome import genome_key
from nastoolkit.nas.outcome import Outcome


class SlowOnOne(SegmentEvaluator):
    """Trains like ``SegmentEvaluator`` but sleeps ``seconds`` first on ``slow_key``'s jobs."""

    def __init__(self, evaluator, slow_key: str, seconds: float):
        super().__init__(evaluator)
        self.slow_key, self.seconds = slow_key, seconds

    def evaluate(self, job):
        if genome_key(job["genome"]) == self.slow_key:
            time.sleep(self.seconds)
        return super().evaluate(job)


class Sleep:
    """``evaluate(seconds)`` sleeps that long and scores it."""

    def evaluate(self, seconds):
        time.sleep(seconds)
        return Outcome("ok", float(seconds))
