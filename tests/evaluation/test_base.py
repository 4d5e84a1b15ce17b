"""The shared metric state: state_dict round trip, merge, and a real 2-process gloo sync."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from foleyldm.evaluation import FrechetDistance, InceptionScore, KLDivergence


def test_state_dict_round_trip_and_unknown_keys():
    rng = np.random.default_rng(0)
    m = KLDivergence()
    m.update(rng.standard_normal((3, 5)), rng.standard_normal((3, 5)))
    copy = KLDivergence()
    copy.load_state_dict(m.state_dict())
    assert copy.compute() == m.compute()
    with pytest.raises(KeyError):
        copy.load_state_dict({"bogus": np.zeros(1)})


def _worker(rank: int, port: int, xg: np.ndarray, logits: np.ndarray, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        fd, isc = FrechetDistance(), InceptionScore()
        half = slice(rank * 20, (rank + 1) * 20)
        fd.update(xg[half], real=False)
        fd.update(xg[half] + 1, real=True)
        isc.update(logits[half])
        fd.sync()
        isc.sync()
        out[rank] = (fd.compute()["fd"], isc.compute()["is"])
    finally:
        dist.destroy_process_group()


def test_sync_across_two_gloo_processes_equals_one_process():
    rng = np.random.default_rng(1)
    xg, logits = rng.standard_normal((40, 3)), rng.standard_normal((40, 6))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manager = mp.Manager()
    out = manager.dict()
    mp.start_processes(
        _worker, args=(port, xg, logits, out), nprocs=2, join=True, start_method="fork"
    )
    fd, isc = FrechetDistance(), InceptionScore()
    fd.update(xg, real=False)
    fd.update(xg + 1, real=True)
    isc.update(logits)
    for rank in (0, 1):
        assert out[rank][0] == pytest.approx(fd.compute()["fd"], rel=1e-10)
        assert out[rank][1] == pytest.approx(isc.compute()["is"], rel=1e-12)
