"""The engine, the training loop and the evaluation on any torch device.

The device-generic code paths run here on CPU through a ``device`` parameter: every
buffer of the engine's workspace, the gradients, the optimizer's and the factors' state,
the batches and the noise live on the model's device. Where torch has a GPU, the same
tests run on it, and CPU and CUDA results agree to float32 tolerance.
"""

import numpy as np
import pytest
import torch

from lrbook import engine
from lrbook.analysis import losses
from lrbook.analysis.evaluate import eval_chunk
from lrbook.factors import Factors
from lrbook.models import RNN
from lrbook.tasks import make_task
from lrbook.training import default_chunk, default_workers, model_for, train

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
DEVICES = [pytest.param(torch.device("cpu"), id="cpu"),
           pytest.param(torch.device("cuda"), id="cuda", marks=needs_cuda)]


def on(device: torch.device, t: torch.Tensor) -> bool:
    return t.device.type == device.type


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("phi", ["tanh", "linear"])
def test_engine_keeps_every_buffer_on_the_device(device, phi):
    m = RNN.create(24, 3, 2, g=[0.5, 1.2], seeds=[0, 1], phi=phi, device=device)
    gen = torch.Generator().manual_seed(0)
    u = torch.randn(2, 9, 4, 3, generator=gen).to(device)
    x0 = torch.randn(2, 1, 24, generator=gen).to(device)
    noise = (0.1 * torch.randn(2, 9, 4, 24, generator=gen)).to(device)
    z, ws = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.3, phi=phi, x0=x0, noise=noise)
    dz = torch.ones_like(z)
    grads = engine.backward(m.W_in, m.W, m.W_out, u, dz, ws, dt=0.3, phi=phi, x0_grad=True)
    for t in (z, *grads, ws.RA, ws.HA, ws.G, ws.Mf, ws.Mb, ws.y, ws.buf, ws.bufb, ws.ones, ws.neg_ones):
        assert t is not None and on(device, t)
    # the same numbers as the model written like its equation (float64 on CPU)
    cpu64 = lambda t: t.detach().cpu().double()  # noqa: E731
    ref, _ = engine.reference_forward(cpu64(m.W_in), cpu64(m.W), cpu64(m.W_out), cpu64(u), dt=0.3,
                                      phi=phi, x0=cpu64(x0), noise=cpu64(noise))
    torch.testing.assert_close(cpu64(z), ref, rtol=1e-4, atol=1e-5)
    # a forward pass without the trajectory: the same outputs, on the device
    z2, ws2 = engine.forward(m.W_in, m.W, m.W_out, u, dt=0.3, phi=phi, x0=x0, noise=noise, trajectory=False)
    assert on(device, ws2.RA) and ws2.RA.shape[1] == 2
    torch.testing.assert_close(z2, z, rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, kw", [("flipflop", {"sigma": 0.1}), ("fixedpoint", {}),
                                      ("romo", {"rank": 2})])
def test_train_runs_on_the_device(device, name, kw):
    """Weights, optimizer state, noise, batches and factors stay on the model's device."""
    task = make_task(name)
    kw = dict(kw)
    rank = kw.pop("rank", None)
    model = model_for(task, 16, [0.0, 0.9], [0, 1], device=device, **kw)
    res = train(model, task, 3, rank=rank, snapshot_every=1)
    for t in model.params().values():
        assert on(device, t)
    assert np.isfinite(res.loss).all() and np.isfinite(res.W).all()
    assert res.loss.shape == (3, 2) and res.snapshots.shape == (4, 2, 16, 16)
    if rank is not None:
        assert res.U.shape == (2, 16, 2)
        np.testing.assert_allclose(res.W, res.W0 + res.U @ res.V.transpose(0, 2, 1), atol=1e-5)
    # and on CPU the result is that of a CPU model, whatever device the run asked for
    if device.type == "cpu":
        ref = train(model_for(task, 16, [0.0, 0.9], [0, 1], **kw), task, 3, rank=rank)
        np.testing.assert_array_equal(res.loss, ref.loss)


@pytest.mark.parametrize("device", DEVICES)
def test_factors_live_on_the_device(device):
    W0 = torch.randn(2, 8, 8).to(device)
    f = Factors(W0, [0, 1], np.array([1, 3]))
    for t in (f.U, f.V, f.mask, f.W0, f.weights(), *f.grads(torch.ones(2, 8, 8, device=device))):
        assert on(device, t)


@pytest.mark.parametrize("device", DEVICES)
def test_evaluation_runs_on_the_device(device):
    task = make_task("flipflop")
    res = train(model_for(task, 16, [0.0, 0.9], [0, 1]), task, 2)
    W = np.stack([res.W, res.W0])
    got = losses(res.model(device=device), task, W, batch_size=16)
    ref = losses(res.model(), task, W, batch_size=16)
    assert got.shape == (2, 2) and np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=1e-4)


def test_chunks_and_workers_by_device():
    """On CPU: chunks of <= 8 networks, a multiple of the workers; on a GPU: one worker, one chunk."""
    assert default_workers(64, "cuda") == 1 and default_workers(64, torch.device("cuda:0")) == 1
    assert default_chunk(64, 1, "cuda") == 64 and default_chunk(5, 1, "cuda") == 5
    assert default_chunk(64, 2, "cpu") == 8 and default_chunk(40, 2, "cpu") == 7
    assert 1 <= default_workers(64, "cpu") <= torch.get_num_threads()
    # evaluation: about 1024 trials per product on CPU (2 networks of 512 trials), all on a GPU
    assert eval_chunk(174, 512, 2, "cpu") == 2
    assert eval_chunk(174, 32, 2, "cpu") == 8
    assert eval_chunk(174, 512, 1, "cuda") == 174
    assert eval_chunk(174, 512, 1, "cuda", fit=33) == 33
    assert eval_chunk(3, 512, 2, "cpu", fit=0) == 1


@needs_cuda
@pytest.mark.parametrize("name, kw", [("flipflop", {}), ("mante", {"sigma": 0.1}), ("cosine", {}),
                                      ("romo", {"rank": 3})])
def test_cuda_training_matches_cpu(name, kw):
    """The same run on CPU and on the GPU: the same numbers to float32 tolerance."""
    task = make_task(name)
    kw = dict(kw)
    rank = kw.pop("rank", None)
    runs = [train(model_for(task, 32, [0.0, 0.9], [0, 1], device=d, **kw), task, 4, rank=rank)
            for d in ("cpu", "cuda")]
    cpu, gpu = runs
    np.testing.assert_allclose(gpu.loss[0], cpu.loss[0], rtol=1e-5)         # before any update
    np.testing.assert_allclose(gpu.loss, cpu.loss, rtol=1e-3)
    np.testing.assert_allclose(gpu.grad_norm, cpu.grad_norm, rtol=1e-3)
    lr = float(cpu.lr.max()) * (1 if rank is None else 8)
    for a, b in ((gpu.W, cpu.W), (gpu.W_in, cpu.W_in), (gpu.W_out, cpu.W_out)):
        np.testing.assert_allclose(a, b, atol=4 * 4 * lr)                  # 4 Adam steps of <= lr each
    tc = losses(cpu.model(), task, batch_size=64)
    tg = losses(cpu.model(device="cuda"), task, batch_size=64)
    np.testing.assert_allclose(tg, tc, rtol=1e-4)
