"""Nothing lost: no run overwrites another's checkpoint, bad targets fail before training,
failed writes name the path, killed writes leave nothing behind, Ctrl-C keeps the checkpoint."""

import errno
import json
import os

import pytest
from nas_fakes import FormulaEvaluator

from nastoolkit.nas import (
    CheckpointError,
    GeneticSearch,
    RandomSearch,
    RegularizedEvolution,
    SearchSpace,
    load_search,
)
from nastoolkit.nas import checkpoint as checkpoint_module
from nastoolkit.nas import strategies as strategies_module

SPACE = SearchSpace(max_layers=3)


def _search(path, strategy=GeneticSearch, generations=1, evaluator=None, **options):
    return strategy(
        SPACE,
        evaluator or FormulaEvaluator(),
        population_size=4,
        generations=generations,
        seed=0,
        checkpoint=path,
        progress=False,
        **options,
    )


def test_a_new_search_refuses_another_runs_checkpoint_and_names_both_ways_on(tmp_path):
    path = tmp_path / "run.json"
    _search(path, generations=2).run()
    before = path.read_bytes()
    evaluator = FormulaEvaluator()
    with pytest.raises(CheckpointError) as error:
        _search(path, strategy=RandomSearch, evaluator=evaluator)
    message = str(error.value)
    assert str(path) in message and "GeneticSearch run (generation 2 of 2" in message
    assert "load_search(" in message and "overwrite=True" in message
    assert evaluator.trainings == 0 and path.read_bytes() == before


def test_overwrite_true_replaces_the_file_and_resume_keeps_writing_its_own(tmp_path):
    path = tmp_path / "run.json"
    _search(path, generations=2).run()
    _search(path, strategy=RandomSearch, generations=0, overwrite=True).run()
    assert json.loads(path.read_text())["strategy"] == "RandomSearch"
    # resuming writes to the file it came from without overwrite=...
    resumed = load_search(path, evaluator=FormulaEvaluator(), generations=1, progress=False)
    resumed.run()
    assert json.loads(path.read_text())["state"]["generation"] == 1


def test_resume_into_another_existing_file_needs_overwrite(tmp_path):
    source, other = tmp_path / "a.json", tmp_path / "b.json"
    _search(source).run()
    _search(other).run()
    with pytest.raises(CheckpointError, match="b.json.*overwrite=True"):
        load_search(source, evaluator=FormulaEvaluator(), checkpoint=other)
    search = load_search(
        source,
        evaluator=FormulaEvaluator(),
        checkpoint=other,
        overwrite=True,
        generations=2,
        progress=False,
    )
    search.run()
    assert json.loads(other.read_text())["state"]["generation"] == 2


def test_a_file_that_appears_after_construction_is_not_overwritten(tmp_path):
    path = tmp_path / "run.json"
    search = _search(path)
    path.write_text("someone else's file")
    with pytest.raises(CheckpointError, match="already holds"):
        search.run()
    assert path.read_text() == "someone else's file"


@pytest.mark.parametrize(
    "make_bad_path, expected",
    [
        (lambda tmp: tmp / "no-such-folder" / "run.json", "does not exist"),
        (lambda tmp: tmp, "is a folder"),
    ],
)
def test_an_unusable_checkpoint_path_fails_at_construction(tmp_path, make_bad_path, expected):
    path = make_bad_path(tmp_path)
    evaluator = FormulaEvaluator()
    with pytest.raises(CheckpointError, match=expected) as error:
        _search(path, evaluator=evaluator)
    assert str(path) in str(error.value) and evaluator.trainings == 0


def test_a_read_only_folder_fails_at_construction(tmp_path, monkeypatch):
    # root ignores permission bits, so the access check is what is exercised
    real_access = os.access
    monkeypatch.setattr(
        checkpoint_module.os,
        "access",
        lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode),
    )
    with pytest.raises(CheckpointError, match="no permission") as error:
        _search(tmp_path / "run.json")
    assert str(tmp_path) in str(error.value)


def test_a_failed_write_names_the_path_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    search = _search(path, generations=1)
    search.run()
    before = path.read_bytes()

    def disk_full(handle):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.os, "fsync", disk_full)
    search.generations = 2
    with pytest.raises(CheckpointError, match="No space left") as error:
        search.run()
    assert str(path) in str(error.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["run.json"]


def test_leftovers_of_a_killed_write_go_with_the_next_successful_write(tmp_path):
    path = tmp_path / "run.json"
    search = _search(path, generations=1)
    search.run()
    # what a write killed between creating its temporary file and the rename leaves
    leftover = tmp_path / ".run.json.k1ll3d.tmp"
    leftover.write_text('{"half": ')
    unrelated = tmp_path / ".other.json.abc.tmp"
    unrelated.write_text("another file's write in progress")
    search.generations = 2
    search.run()
    assert sorted(os.listdir(tmp_path)) == [".other.json.abc.tmp", "run.json"]


class RecordingMap:
    """A serial map that raises KeyboardInterrupt on its ``interrupt_at``-th call and records
    whether it was terminated or closed."""

    def __init__(self, evaluator, interrupt_at, with_terminate=True):
        self.evaluator, self.interrupt_at, self.calls = evaluator, interrupt_at, 0
        self.terminated = self.closed = False
        if with_terminate:
            self.terminate = self._terminate

    def map(self, genomes):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return [self.evaluator.evaluate(genome) for genome in genomes]

    def _terminate(self):
        self.terminated = True

    def close(self):
        self.closed = True


@pytest.mark.parametrize("with_terminate", [True, False])
def test_ctrl_c_terminates_the_map_keeps_the_checkpoint_and_resumes_exactly(
    tmp_path, monkeypatch, with_terminate
):
    path = tmp_path / "run.json"
    maps = []

    def make_map(evaluator, **options):
        maps.append(RecordingMap(evaluator, interrupt_at=3, with_terminate=with_terminate))
        return maps[-1]

    monkeypatch.setattr(strategies_module, "make_map", make_map)
    search = _search(path, strategy=RegularizedEvolution, generations=4, sample_size=2)
    with pytest.raises(KeyboardInterrupt):
        search.run()
    used = maps[0]
    assert (used.terminated, used.closed) == ((True, False) if with_terminate else (False, True))
    assert json.loads(path.read_text())["state"]["generation"] == 1  # the 3rd map call was gen 2
    monkeypatch.undo()
    resumed = load_search(path, evaluator=FormulaEvaluator(), progress=False).run()
    uninterrupted = RegularizedEvolution(
        SPACE,
        FormulaEvaluator(),
        population_size=4,
        sample_size=2,
        generations=4,
        seed=0,
        progress=False,
    ).run()
    assert resumed == uninterrupted and resumed.to_dict() == uninterrupted.to_dict()


def test_auto_models_refuse_another_runs_checkpoint_unless_overwrite(tmp_path):
    from nastoolkit.nas import AutoClassifier

    path = tmp_path / "auto.json"
    _search(path).run()
    with pytest.raises(CheckpointError, match="already holds a GeneticSearch run"):
        AutoClassifier(checkpoint=path, progress=False)
    auto = AutoClassifier(checkpoint=path, overwrite=True, progress=False, timeout=30)
    assert auto.options["checkpoint"] == str(path) and auto.timeout == 30.0
