"""Training: optimisers, reproducibility, ensembles, divergence, the rank-2 result."""

import numpy as np
import pytest
import torch

from lrbook.models import RNN
from lrbook.tasks import FixedPoint, FlipFlop, WorkingMemory
from lrbook.training import TrainingDivergedError, default_lr, model_for, train


def test_flipflop_loss_decreases_and_result_fields():
    task = FlipFlop()
    m = model_for(task, 32, g=[0.0, 0.9], seeds=[0, 1])
    r = train(m, task, 60, snapshot_every=20)
    assert r.loss.shape == (60, 2) and r.grad_norm.shape == (60, 2)
    assert np.all(r.loss[-5:].mean(0) < 0.6 * r.L0)
    assert r.W0.shape == r.W.shape == (2, 32, 32)
    assert r.snapshots.shape == (4, 2, 32, 32)
    assert list(r.snapshot_epochs) == [0, 20, 40, 60]
    np.testing.assert_array_equal(r.snapshots[0], r.W0)
    np.testing.assert_array_equal(r.snapshots[-1], r.W)
    assert np.all(r.diverged_epoch == -1)
    assert r.config["N"] == 32 and r.config["task"]["name"] == "flipflop"
    assert np.allclose(r.lr, 0.05 / 32)
    # the model was trained in place and result.model() rebuilds it
    torch.testing.assert_close(r.model().W, m.W)


def test_same_seed_same_numbers_bit_identical():
    task = WorkingMemory()
    a = train(model_for(task, 24, g=[0.3, 1.2], seeds=[4, 5]), task, 8)
    b = train(model_for(task, 24, g=[0.3, 1.2], seeds=[4, 5]), task, 8)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.W, b.W)


def test_network_alone_or_in_ensemble_same_losses():
    """Float32 tolerance: batched products may round differently; we allow 1e-5 relative."""
    task = FlipFlop(t_max=20.0)
    ens = train(model_for(task, 48, g=[0.0, 0.9, 1.8, 0.6], seeds=[3, 4, 5, 6]), task, 25)
    alone = train(model_for(task, 48, g=[1.8], seeds=[5]), task, 25)
    np.testing.assert_allclose(ens.loss[:, 2], alone.loss[:, 0], rtol=1e-5)
    np.testing.assert_allclose(ens.W[2], alone.W[0], rtol=1e-4, atol=1e-6)
    # and the chunking of the ensemble does not change the result
    ch = train(model_for(task, 48, g=[0.0, 0.9, 1.8, 0.6], seeds=[3, 4, 5, 6]), task, 25, chunk_size=3)
    assert ch.K == 4
    np.testing.assert_allclose(ch.loss, ens.loss, rtol=1e-5)


def test_adam_matches_torch_optim_adam():
    task = FlipFlop(t_max=10.0)
    m = model_for(task, 16, g=[1.0], seeds=[2])
    ref = m.clone()
    r = train(m, task, 5, lr=1e-2, batch_size=4)
    params = [ref.W.requires_grad_(), ref.W_in.requires_grad_(), ref.W_out.requires_grad_()]
    opt = torch.optim.Adam(params, lr=1e-2)
    from lrbook.models import STREAM_DATA, rng_for
    rng = rng_for(2, STREAM_DATA)
    for ep in range(5):
        b = task.batch(4, rng)
        loss = ref.forward(b.u)
        err = (loss - torch.tensor(b.target)) * torch.tensor(b.mask)
        L = 0.5 * err.pow(2).sum() / torch.tensor(b.mask).sum()
        assert abs(L.item() - r.loss[ep, 0]) < 1e-5 * max(1.0, L.item())
        opt.zero_grad()
        L.backward()
        opt.step()
    torch.testing.assert_close(ref.W.detach(), m.W, rtol=1e-4, atol=1e-6)


def test_only_selected_weights_change():
    task = FlipFlop()
    m = model_for(task, 16, g=[0.5], seeds=[0], trained=("W",))
    r = train(m, task, 10)
    np.testing.assert_array_equal(r.W_in, r.W_in0)
    np.testing.assert_array_equal(r.W_out, r.W_out0)
    assert not np.array_equal(r.W, r.W0)


def test_fixed_point_g0_dW_has_rank_two():
    """The paper's analytic result: at g = 0, dW stays in span{w, m} x span{w, m}."""
    task = FixedPoint(z_hat=1.0)
    m = model_for(task, 64, g=[0.0], seeds=[1], dtype=torch.float64)
    r = train(m, task, 40)
    s = np.linalg.svd(r.dW[0], compute_uv=False)
    assert s[0] > 1e-2
    assert s[2] / s[0] < 1e-5
    assert r.loss[-1, 0] < 0.5 * r.L0[0]
    assert r.config["optimizer"] == "sgd" and r.config["batch_size"] == 1


def test_default_learning_rates():
    np.testing.assert_allclose(default_lr(FixedPoint(z_hat=2.0), 100, [0.0, 0.5]), [0.003, 0.003 * 0.75 ** 2])
    np.testing.assert_allclose(default_lr(FlipFlop(), 256, [0.0, 1.0]), [0.05 / 256] * 2)


def test_divergence_raises_with_epoch_and_network():
    task = FixedPoint(z_hat=4.0)
    m = model_for(task, 32, g=[0.2, 0.8], seeds=[0, 1])
    with pytest.raises(TrainingDivergedError, match=r"epoch \d+ in network \d"):
        train(m, task, 200, lr=[1e-3, 5.0])


def test_divergence_stop_keeps_finite_state_and_other_networks():
    task = FixedPoint(z_hat=4.0, t_max=30.0)
    m = model_for(task, 32, g=[0.2, 0.8], seeds=[0, 1])
    r = train(m, task, 120, lr=[1e-3, 5.0], on_divergence="stop")
    assert r.diverged_epoch[0] == -1 and r.diverged_epoch[1] >= 0
    e = r.diverged_epoch[1]
    assert np.all(np.isfinite(r.W)) and not np.isfinite(r.loss[e, 1])
    assert np.all(np.isnan(r.loss[e + 1:, 1]))
    assert np.all(np.isfinite(r.loss[:, 0]))           # the healthy network trained to the end
    assert r.diverged.tolist() == [False, True]


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(lr=-1.0), ValueError, "lr"),
    (dict(lr=float("inf")), ValueError, "lr"),
    (dict(lr=[0.1, 0.2, 0.3]), ValueError, "lr"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(snapshot_every=0), ValueError, "snapshot_every"),
    (dict(on_divergence="ignore"), ValueError, "on_divergence"),
])
def test_train_rejects_bad_input(kwargs, exc, word):
    task = FlipFlop()
    m = model_for(task, 8, g=[0.5, 1.0], seeds=[0, 1])
    args = dict(epochs=2)
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        train(m, task, **args)


def test_task_model_mismatch_is_reported():
    m = RNN.create(8, 3, 1)
    with pytest.raises(ValueError, match="n_in"):
        train(m, FlipFlop(), 2)


def test_noise_is_seeded():
    task = FlipFlop()
    a = train(model_for(task, 16, g=[0.5], seeds=[0], sigma=0.1), task, 5)
    b = train(model_for(task, 16, g=[0.5], seeds=[0], sigma=0.1), task, 5)
    c = train(model_for(task, 16, g=[0.5], seeds=[0]), task, 5)
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.allclose(a.loss[1:], c.loss[1:])


# --------------------------------------------------------------------------- issue 20: input at the boundary
def test_sizes_beyond_memory_are_refused_before_allocating():
    """Item 1: the memory of a run is known from (N, K, B, T, dtype, epochs) and checked first."""
    with pytest.raises(ValueError, match=r"N=10000000, K=1: the run needs about .* of memory .* is "
                                         r"available .* reduce N"):
        model_for(FlipFlop(), 10_000_000)
    task = FlipFlop()
    m = model_for(task, 8)
    with pytest.raises(ValueError, match=r"epochs=10{15}.* needs about .*available"):
        train(m, task, 10 ** 15)
    with pytest.raises(ValueError, match=r"batch_size=10{10}.* needs about .*available"):
        train(m, task, 1, batch_size=10 ** 10)
    with pytest.raises(ValueError, match=r"batch_size=10{12}.*available"):
        task.batch(10 ** 12, rng=0)
    assert np.array_equal(m.W.numpy(), model_for(task, 8).W.numpy())     # untouched


def test_seeds_and_network_count_are_bounded():
    """Item 1: seeds fit numpy/torch seeding (int64), ensembles have at most MAX_NETWORKS networks."""
    from lrbook._validate import MAX_NETWORKS, MAX_SEED

    assert model_for(FlipFlop(), 4, seeds=MAX_SEED).seeds.tolist() == [MAX_SEED]
    with pytest.raises(ValueError, match=r"seeds\[0\] must be an integer <= 2\*\*63 - 1 = 9223372036854775807 "
                                         r".*; got 10{23}"):
        model_for(FlipFlop(), 4, seeds=10 ** 23)
    with pytest.raises(ValueError, match=f"seeds must have at most {MAX_NETWORKS} entries"):
        model_for(FlipFlop(), 4, seeds=range(MAX_NETWORKS + 1))
    with pytest.raises(ValueError, match=f"g must have at most {MAX_NETWORKS} entries"):
        model_for(FlipFlop(), 4, g=np.zeros(MAX_NETWORKS + 1))
    with pytest.raises(ValueError, match="threads must be an integer in 1..1024"):
        train(model_for(FlipFlop(), 4), FlipFlop(), 1, threads=10 ** 9)


def test_values_the_training_dtype_cannot_hold_are_bad_input_not_divergence():
    """Item 3: finite in float64 but inf in float32 (g, z_hat, lr), or NaN in a batch: ValueError."""
    with pytest.raises(ValueError, match=r"g=1e\+308 is not representable in float32"):
        model_for(FlipFlop(), 8, g=1e308)
    assert np.isfinite(model_for(FlipFlop(), 8, g=1e300, dtype=torch.float64).W.numpy()).all()
    with pytest.raises(ValueError, match="z_hat must be representable in float32"):
        FixedPoint(z_hat=1e308)
    task = FlipFlop()
    m = model_for(task, 8)
    with pytest.raises(ValueError, match=r"lr\[0\] must be .*<= 3.40282.*got 1e\+39"):
        train(m, task, 1, lr=1e39)
    u, target, mask = task.batch(2, rng=0)
    u[0, 3, 0] = np.nan
    with pytest.raises(ValueError, match="u must hold finite values"):
        m.loss(u, target, mask)
    with pytest.raises(ValueError, match="target must hold finite values"):
        m.loss(task.batch(2, rng=0).u, np.full_like(target, 1e300, dtype=np.float64), mask)

    class NaNTrials(FlipFlop):                         # a user's task whose trials hold a NaN
        def _generate(self, B, rng):
            b = super()._generate(B, rng)
            b.u[0, 0, 0] = np.nan
            return b

    with pytest.raises(ValueError, match=r"task flipflop produced trials whose u holds 1 NaN/inf"):
        train(model_for(NaNTrials(), 8), NaNTrials(), 2)


def test_stop_returns_the_last_finite_weights_when_the_weights_overflow():
    """Item 4: an SGD step that takes the weights (not only the loss) to inf is undone."""
    task = FixedPoint(z_hat=100.0, t_max=10.0)
    m = model_for(task, 8, g=[0.5, 0.5], seeds=[0, 1])
    W0 = m.W.clone()
    r = train(m, task, 3, lr=[1e-4, 1e37], optimizer="sgd", on_divergence="stop")
    assert r.diverged_epoch.tolist() == [-1, 0]
    assert np.isfinite(r.W).all() and np.isfinite(m.W.numpy()).all()
    np.testing.assert_array_equal(r.W[1], W0[1].numpy())          # the weights before the bad step
    assert np.isfinite(r.loss[0, 1]) and np.isnan(r.loss[1:, 1]).all()
    assert r.final_loss[1] == r.loss[0, 1]                          # the loss of the returned weights
    assert np.isfinite(r.loss[:, 0]).all() and not np.array_equal(r.W[0], W0[0].numpy())
    # with "raise" the model also keeps its last finite weights
    m2 = model_for(task, 8, g=[0.5], seeds=[1])
    with pytest.raises(TrainingDivergedError, match="epoch 0 in network 0 .*the updated weights"):
        train(m2, task, 3, lr=1e37, optimizer="sgd")
    assert np.isfinite(m2.W.numpy()).all()


@pytest.mark.parametrize("call, exc, needle", [
    (lambda: model_for(None, 8), TypeError, "task must be an lrbook Task (FlipFlop, ContextIntegration"),
    (lambda: train(model_for(FlipFlop(), 4), "flipflop", 1), TypeError, "make_task(name) with name one of"),
    (lambda: model_for(FlipFlop(), 8, device="nope"), ValueError, "device must be one of 'cpu', 'cuda'"),
    (lambda: model_for(FlipFlop(), 8, device=3), TypeError, "device must be a device name"),
    (lambda: model_for(FlipFlop(), 8, dtype=torch.int64), ValueError,
     "dtype must be one of torch.float32, torch.float64 (a floating-point training dtype); got torch.int64"),
    (lambda: model_for(FlipFlop(), 8, dtype=torch.complex64), ValueError, "dtype must be one of torch.float32"),
    (lambda: RNN.create(8, 1, 1, dtype="int32"), ValueError, "dtype must be one of torch.float32"),
])
def test_errors_name_the_parameter_and_the_allowed_values(call, exc, needle):
    """Item 9."""
    with pytest.raises(exc) as info:
        call()
    assert needle in str(info.value)


def test_float64_and_named_dtypes_still_work():
    m = model_for(FlipFlop(), 8, dtype="float64")
    assert m.W.dtype == torch.float64
    r = train(m, FlipFlop(), 2)
    assert np.isfinite(r.loss).all()


@pytest.mark.parametrize("phi", ["linear", "tanh"])
def test_trained_W_in_gets_the_gradient_through_the_initial_state(phi):
    """Cosine starts at x0 = m = W_in[:, 0]: one SGD step on W_in is -lr times the full gradient,
    the path through x0 included (torch.autograd through the reference loop)."""
    from lrbook.engine import reference_forward
    from lrbook.tasks import Cosine

    task = Cosine()
    m = model_for(task, 12, g=[0.0, 0.5], seeds=[0, 1], phi=phi, trained=("W_in", "W"),
                  dtype=torch.float64)
    assert m.x0_mode == "input"
    W_in = m.W_in.clone().requires_grad_()
    b = task.batch(1)
    u = torch.tensor(b.u, dtype=torch.float64).transpose(0, 1).unsqueeze(0).expand(2, -1, -1, -1)
    y = torch.tensor(b.target, dtype=torch.float64).transpose(0, 1)
    msk = torch.tensor(b.mask, dtype=torch.float64).transpose(0, 1)
    z, _ = reference_forward(W_in, m.W, m.W_out, u, dt=m.dt, phi=phi, x0=W_in[:, :1])
    (0.5 * (msk * (z - y) ** 2).reshape(2, -1).sum(1) / msk.sum()).sum().backward()
    r = train(m, task, 1, lr=0.1, optimizer="sgd")
    np.testing.assert_allclose((r.W_in0 - r.W_in) / 0.1, W_in.grad.numpy(), rtol=1e-6, atol=1e-9)
