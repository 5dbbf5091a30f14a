"""Chunked predict-and-score (rewards overlapped with the network) gives what predict-then-score gives."""

from __future__ import annotations

import threading

import torch

from svdd_cli.core import Counters, counted_model
from svdd_cli.samplers.overlap import predict_and_score
from tests.conftest import CountLetter, log_uniform, table_model


class ThreadRecordingReward(CountLetter):
    """CountLetter that records the thread and batch size of each call."""

    def __init__(self) -> None:
        super().__init__("A")
        self.calls: list[tuple[str, int]] = []

    def __call__(self, samples):
        self.calls.append((threading.current_thread().name, len(samples)))
        return super().__call__(samples)


def test_chunks_scored_off_the_main_thread_match_one_big_call():
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=6)
    x = model.propose(model.predict(model.init(23, torch.Generator()), 1.0), 0.5, torch.Generator().manual_seed(0))
    reward = ThreadRecordingReward()
    counters = Counters()
    pred, scores = predict_and_score(counted_model(model, counters, max_batch=5), reward, x, 0.5, overlap=True)
    whole = model.predict(x, 0.5)
    assert torch.equal(pred.x0, whole.x0) and torch.equal(pred.output, whole.output)
    assert torch.equal(scores, CountLetter("A")(model.decode(whole.x0)))
    assert [size for _, size in reward.calls] == [5, 5, 5, 5, 3] and counters.nfe == 23
    assert all(name != threading.main_thread().name for name, _ in reward.calls)


def test_without_overlap_one_call_on_this_thread():
    model = table_model(log_uniform(10, 4), "ACGT", num_steps=6)
    x = model.init(12, torch.Generator())
    reward = ThreadRecordingReward()
    predict_and_score(counted_model(model, Counters(), max_batch=5), reward, x, 1.0)  # a CPU model: no overlap
    assert reward.calls == [(threading.current_thread().name, 12)]


def test_a_set_level_natural_term_is_scored_on_the_whole_batch_even_with_overlap():
    from svdd_cli.core import counted_reward
    from svdd_cli.rewards.kmer_set import KmerSetNaturalness

    model = table_model(log_uniform(10, 4), "ACGT", num_steps=6)
    x = model.propose(model.predict(model.init(23, torch.Generator()), 1.0), 0.5, torch.Generator().manual_seed(0))
    inner = ThreadRecordingReward()
    natural = KmerSetNaturalness(shipped_spectra())
    guide = counted_reward(inner, Counters(), -1000.0, natural=natural)
    _, scores = predict_and_score(counted_model(model, Counters(), max_batch=5), guide, x, 0.5, overlap=True)
    samples = model.decode(model.predict(x, 0.5).x0)
    assert [size for _, size in inner.calls] == [23]  # one call: the set term sees the step's whole batch
    assert torch.allclose(scores, CountLetter("A")(samples) + natural(samples))


def shipped_spectra() -> str:
    from svdd_cli.compose import compose_config

    return compose_config(["reward=kmer_set"]).reward.reference
