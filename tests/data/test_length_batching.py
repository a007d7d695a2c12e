"""Length-grouped training batches (TaskBatchSampler) and the recorded span-less sub-sampling ratio."""

from __future__ import annotations

import random

import pytest

from clinprompt.data.datamodule import TaskBatchSampler
from clinprompt.data.loader import ResumableDataLoader

N = 203  # not a multiple of the batch size: the last batch of a mega-batch is short


def _data(seed: int = 0) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    tasks = ["concepts" if rng.random() < 0.7 else "relations" for _ in range(N)]
    return tasks, [rng.randint(5, 200) for _ in range(N)]


def _padding(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("group", [1, 4, 1000])
def test_every_example_once_per_epoch_and_tasks_never_mix(group):
    tasks, lengths = _data()
    sampler = TaskBatchSampler(tasks, 8, seed=3, lengths=lengths, group=group)
    for _ in range(3):
        batches = list(sampler)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(N))
        assert all(len({tasks[i] for i in b}) == 1 for b in batches)
        assert all(1 <= len(b) <= 8 for b in batches)


def test_ranks_partition_the_batches():
    tasks, lengths = _data()
    shards = [list(TaskBatchSampler(tasks, 8, seed=3, rank=r, world=2, lengths=lengths, group=4)) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1])
    seen = [i for s in shards for b in s for i in b]
    assert len(seen) == len(set(seen))  # no example on two ranks (the odd batch is dropped)


def test_order_is_a_pure_function_of_seed_and_epoch():
    tasks, lengths = _data()
    a = TaskBatchSampler(tasks, 8, seed=5, lengths=lengths, group=4)
    b = TaskBatchSampler(tasks, 8, seed=5, lengths=lengths, group=4)
    epochs_a = [list(a) for _ in range(3)]
    assert epochs_a == [list(b) for _ in range(3)]
    assert epochs_a[0] != epochs_a[1]  # reshuffled every epoch
    c = TaskBatchSampler(tasks, 8, seed=5, lengths=lengths, group=4)
    c.set_epoch(2)
    assert list(c) == epochs_a[2]  # set_epoch(e) replays epoch e, whatever came before
    assert list(TaskBatchSampler(tasks, 8, seed=6, lengths=lengths, group=4)) != epochs_a[0]


def test_grouping_sorts_inside_mega_batches_and_pads_less():
    tasks, lengths = _data()
    one = ["concepts"] * N
    # one mega-batch over everything: every batch is a run of consecutive lengths in sorted order
    batches = list(TaskBatchSampler(one, 8, seed=0, lengths=lengths, group=1000))
    ordered = sorted(lengths)
    runs = sorted((min(lengths[i] for i in b), max(lengths[i] for i in b), len(b)) for b in batches)
    pos = 0
    for lo, hi, n in runs:
        assert (ordered[pos], ordered[pos + n - 1]) == (lo, hi)
        pos += n
    plain = list(TaskBatchSampler(tasks, 8, seed=0))
    grouped = list(TaskBatchSampler(tasks, 8, seed=0, lengths=lengths, group=8))
    assert _padding(grouped, lengths) < 0.5 * _padding(plain, lengths)
    # without lengths (or group 1) the order is the ungrouped one, unchanged
    assert list(TaskBatchSampler(tasks, 8, seed=0, lengths=lengths, group=1)) == plain


def test_exact_resume_replays_the_grouped_epoch_from_a_batch():
    tasks, lengths = _data()
    reference = TaskBatchSampler(tasks, 8, seed=1, lengths=lengths, group=4)
    reference.set_epoch(2)
    epoch2 = [list(b) for b in reference]
    loader = ResumableDataLoader(list(range(N)),
                                 batch_sampler=TaskBatchSampler(tasks, 8, seed=1, lengths=lengths, group=4))
    loader.load_state_dict({"epoch": 2, "batches": 3})  # what a checkpoint saved 3 batches into epoch 2 restores
    assert [b.tolist() for b in loader] == epoch2[3:]


def test_lengths_must_match_the_examples():
    with pytest.raises(ValueError, match="3 lengths for 2 examples"):
        TaskBatchSampler(["concepts"] * 2, 8, seed=0, lengths=[1, 2, 3], group=4)


def test_span_less_sub_sampling_is_counted_in_the_data_stats(data_dir, tmp_path):
    from hydra.utils import instantiate

    from clinprompt.scale.compose import compose_config

    cfg = compose_config(["model=tiny_bert", "strategy=hard_prompt", "dataset.loader.n_train=6",
                          "dataset.loader.n_dev=1", "dataset.loader.n_test=1", "dataset.negatives=0.3",
                          f"paths.cache_dir={tmp_path}", "module.datamodule.cache_dir=null"])
    dm = instantiate(cfg.module.datamodule, _recursive_=False)
    dm.setup("fit")
    every = dm._train_examples(dm.train_docs)  # recomputed: the examples before sub-sampling
    span_less = sum(not e.spans for e in every)
    kept = sum(not e.spans for e in dm.train_examples)
    assert 0 < kept < span_less
    assert dm.stats["negatives_ratio"] == 0.3
    assert dm.stats["span_less_examples"] == span_less and dm.stats["span_less_kept"] == kept
    assert dm.stats["train_examples"] == len(every) - span_less + kept == len(dm.train_examples)
    assert dm.stats["train_examples_before_sampling"] == len(every)
