"""lrbook.nlp: loaders on the shipped sample (real formats), vocabulary, LSTM, gates, truncation, synthetic task."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch

import lrbook.nlp as nlp
from lrbook.analysis import recurrent_weights
from lrbook.nlp import fetch, make_sample

SAMPLE = nlp.sample_dir()
TRAIN_TSV = SAMPLE / "SST-2" / "train.tsv"
DEV_TSV = SAMPLE / "SST-2" / "dev.tsv"
GLOVE = SAMPLE / "glove.sample.100d.txt"


# --------------------------------------------------------------------------- shipped sample
def test_sample_files_are_packaged():
    assert TRAIN_TSV.is_file() and DEV_TSV.is_file() and GLOVE.is_file()
    assert nlp.available(SAMPLE)
    assert nlp.sst2_file(SAMPLE, "train") == TRAIN_TSV
    assert nlp.glove_file(SAMPLE) == GLOVE


def test_read_sst2_sample_counts_and_known_line():
    s, y = nlp.read_sst2(TRAIN_TSV)
    assert len(s) == 400 and y.shape == (400,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    # the first data line of the file, written by make_sample.py
    first = TRAIN_TSV.read_text(encoding="utf-8").splitlines()[1]
    sentence, label = first.split("\t")
    assert s[0] == sentence.strip() and y[0] == int(label)
    assert s[0] == "the pacing never feels delightful , and the musical feels like a chore ." and y[0] == 0
    s_dev, y_dev = nlp.read_sst2(DEV_TSV)
    assert len(s_dev) == 100 and len(y_dev) == 100
    assert int(y.sum()) == sum(int(line.rsplit("\t", 1)[1]) for line in
                               TRAIN_TSV.read_text(encoding="utf-8").splitlines()[1:])


def test_read_sst2_rejects_bad_files(tmp_path):
    bad = tmp_path / "train.tsv"
    bad.write_text("text\tlabel\na\t1\n")
    with pytest.raises(ValueError, match="line 1 must be the header"):
        nlp.read_sst2(bad)
    bad.write_text("sentence\tlabel\ngood film\t1\nbad film\t2\n")
    with pytest.raises(ValueError, match="line 3"):
        nlp.read_sst2(bad)
    test = tmp_path / "test.tsv"
    test.write_text("index\tsentence\n0\ta fine film .\n1\tdull .\n")
    s, y = nlp.read_sst2(test)
    assert s == ["a fine film .", "dull ."] and y is None


def test_read_glove_sample_rows_match_the_file():
    emb = nlp.read_glove(GLOVE)
    lines = GLOVE.read_text(encoding="utf-8").splitlines()
    assert len(emb) == len(lines) == 274 and emb.dim == 100
    assert emb.vectors.shape == (274, 100) and emb.vectors.dtype == np.float32
    for i in (0, 17, len(lines) - 1):
        parts = lines[i].split(" ")
        assert emb.words[i] == parts[0]
        np.testing.assert_array_equal(emb.vectors[i], np.asarray(parts[1:], dtype=np.float32))
    assert emb.words[0] == "."                         # most frequent token first
    sub = nlp.read_glove(GLOVE, words=["the", "film", "nonexistent"])
    assert sorted(sub.words) == ["film", "the"]
    np.testing.assert_array_equal(sub["film"], emb["film"])


def test_read_glove_rejects_malformed_lines(tmp_path):
    f = tmp_path / "glove.bad.3d.txt"
    f.write_text("a 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="line 2"):
        nlp.read_glove(f)
    f.write_text("a 1 2 3\nb 1 x 3\n")
    with pytest.raises(ValueError, match="line 2"):
        nlp.read_glove(f)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="SST-2"):
        nlp.sst2_file(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="glove"):
        nlp.glove_file(tmp_path)
    assert not nlp.available(tmp_path)


# --------------------------------------------------------------------------- tokenizer, vocabulary
def test_tokenize_clitics_and_punctuation():
    assert nlp.tokenize("Don't miss it!") == ["do", "n't", "miss", "it", "!"]
    assert nlp.tokenize("It's not bad, really.") == ["it", "'s", "not", "bad", ",", "really", "."]
    assert nlp.tokenize("a well-made film") == ["a", "well-made", "film"]


def test_tokenize_round_trips_sst2_sentences():
    sentences, _ = nlp.read_sst2(TRAIN_TSV)
    for s in sentences:
        assert " ".join(nlp.tokenize(s)) == s


def test_vocab_round_trip_and_oov():
    sents = [nlp.tokenize(s) for s in ["the film is fine .", "the end ."]]
    vocab = nlp.Vocab.build(sents)
    # specials, then by frequency (ties alphabetical), so "." and "the" (2 each) come first
    assert vocab.itos == ["<pad>", "<unk>", ".", "the", "end", "film", "fine", "is"]
    ids = vocab.encode(sents[0])
    assert vocab.decode(ids) == sents[0]
    oov = vocab.encode(["the", "zebra"])
    assert oov.tolist() == [vocab.stoi["the"], nlp.UNK_ID]
    assert vocab.decode([0, 0, vocab.stoi["end"]]) == ["end"]       # padding dropped
    with pytest.raises(ValueError, match="ids must be in"):
        vocab.decode([len(vocab)])
    small = nlp.Vocab.build(sents, min_freq=2)
    assert small.itos == ["<pad>", "<unk>", ".", "the"]
    with pytest.raises(TypeError, match="tokenized"):
        nlp.Vocab.build(["the film"])


def test_pad():
    tok, ln = nlp.pad([np.array([3, 4, 5]), np.array([6])])
    assert tok.tolist() == [[3, 4, 5], [6, 0, 0]] and ln.tolist() == [3, 1]
    tok, ln = nlp.pad([np.array([3, 4, 5]), np.array([6])], max_len=2)
    assert tok.shape == (2, 2) and ln.tolist() == [2, 1]


# --------------------------------------------------------------------------- dataset from the sample
def test_load_sentiment_from_sample():
    d = nlp.load_sentiment(SAMPLE)
    assert d.name == "sst2" and len(d.train) == 400 and len(d.test) == 100
    assert d.embeddings.shape == (len(d.vocab), 100)
    emb = nlp.read_glove(GLOVE)
    # every vocabulary row with a vector is that vector, exactly
    for w in ("the", "film", "charming", "dull", "n't"):
        np.testing.assert_array_equal(d.embeddings[d.vocab.stoi[w]], emb[w])
    # the actors' names have no GloVe vector: 5 OOV tokens, random rows (seeded), not zeros
    names = [w for w in make_sample.NAMES if w in d.vocab]
    assert d.info["oov_tokens"] == len(names) == 5
    rows = d.embeddings[[d.vocab.stoi[w] for w in names]]
    assert np.all(np.linalg.norm(rows, axis=1) > 0)
    np.testing.assert_array_equal(d.embeddings[nlp.PAD_ID], 0)
    np.testing.assert_array_equal(d.embeddings[nlp.UNK_ID], 0)
    d0 = nlp.load_sentiment(SAMPLE, oov="zeros")
    np.testing.assert_array_equal(d0.embeddings[[d0.vocab.stoi[w] for w in names]], 0)
    # the tokens decode back to the sentences
    s, y = nlp.read_sst2(TRAIN_TSV)
    assert " ".join(d.vocab.decode(d.train.tokens[5])) == s[5]
    assert d.train.lengths[5] == len(s[5].split())
    np.testing.assert_array_equal(d.train.labels, y)


def test_sentiment_data_table():
    d = nlp.load_sentiment(SAMPLE)
    t = d.table()
    assert t.columns == ["split", "sentences", "positive (fraction)", "mean length (words)"]
    assert [r[:2] for r in t.rows] == [["train", "400"], ["test", "100"]]
    assert float(t.rows[0][2]) == pytest.approx(d.train.labels.mean(), abs=1e-3)
    assert float(t.rows[1][3]) == pytest.approx(d.test.lengths.mean(), rel=1e-2)
    assert t.caption.startswith("sst2: ") and f"{len(d.vocab):,} words" in t.caption
    assert "100-dimensional" in t.caption
    assert "<th>positive (fraction)</th>" in t._repr_html_()


def test_sample_script_reproduces_shipped_files(tmp_path):
    make_sample.write(tmp_path)
    for rel in ("SST-2/train.tsv", "SST-2/dev.tsv", "glove.sample.100d.txt"):
        assert (tmp_path / rel).read_bytes() == (SAMPLE / rel).read_bytes(), rel


# --------------------------------------------------------------------------- download (never networked)
def test_download_plan_urls_and_paths(tmp_path):
    plan = nlp.download_plan(tmp_path)
    assert [p.name for p in plan] == ["sst2", "glove"]
    sst, glove = plan
    assert sst.url == "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
    assert glove.url == "https://nlp.stanford.edu/data/glove.6B.zip"
    assert dict(sst.members)["SST-2/train.tsv"] == tmp_path / "SST-2" / "train.tsv"
    assert glove.members == (("glove.6B.100d.txt", tmp_path / "glove.6B.100d.txt"),)
    assert [p.name for p in nlp.download_plan(tmp_path, "glove", dim=50)] == ["glove"]
    with pytest.raises(ValueError, match="dim must be one of"):
        nlp.download_plan(tmp_path, dim=64)
    with pytest.raises(ValueError, match="what must be one of"):
        nlp.download_plan(tmp_path, "imdb")


def test_download_without_network_refuses_cleanly(tmp_path, monkeypatch):
    calls = []

    def offline(req, timeout=None):
        calls.append(req.full_url)
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fetch, "urlopen", offline)
    with pytest.raises(nlp.DownloadError, match="could not download sst2 .*by hand"):
        nlp.download(tmp_path, progress=False)
    assert calls == [fetch.SST2_URL]
    assert list(tmp_path.rglob("*")) == []                  # nothing half-written


def _zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


class _Response(io.BytesIO):
    headers: dict = {}


def test_download_extracts_into_the_loader_layout(tmp_path, monkeypatch):
    tsv = TRAIN_TSV.read_text(encoding="utf-8")
    archives = {
        fetch.SST2_URL: _zip_bytes({"SST-2/train.tsv": tsv, "SST-2/dev.tsv": DEV_TSV.read_text(),
                                    "SST-2/test.tsv": "index\tsentence\n0\tfine .\n"}),
        fetch.GLOVE_URL: _zip_bytes({"glove.6B.100d.txt": GLOVE.read_text(), "glove.6B.50d.txt": "x 1\n"}),
    }
    monkeypatch.setattr(fetch, "urlopen", lambda req, timeout=None: _Response(archives[req.full_url]))
    root = nlp.download(tmp_path, progress=False)
    assert root == tmp_path and nlp.available(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SST-2", "glove.6B.100d.txt"]   # zips removed
    d = nlp.load_sentiment(tmp_path)
    assert len(d.train) == 400
    # a second call finds everything and fetches nothing
    monkeypatch.setattr(fetch, "urlopen", lambda *a, **k: pytest.fail("fetched again"))
    nlp.download(tmp_path, progress=False)


# --------------------------------------------------------------------------- LSTM
def _tiny_data():
    return nlp.make_synthetic(n_train=1024, n_test=256, n_sentiment_words=6, n_neutral=20, n_distractors=4,
                              max_len=10, seed=3)


def test_lstm_forward_shapes_and_frozen_embedding():
    d = _tiny_data()
    m = nlp.SentimentLSTM(d.embeddings, hidden=16, layers=2, dropout=0.5, seed=0)
    tok, ln, y = next(nlp.batches(d.train, 8))
    assert m(tok, ln).shape == (8, 2)
    assert not m.embedding.weight.requires_grad
    assert m.lstm.weight_hh_l1.shape == (64, 16) and m.lstm.weight_ih_l0.shape == (64, 100)
    # padding does not change the result (packed sequences)
    m.eval()
    longer = torch.cat([tok, torch.zeros(8, 3, dtype=torch.long)], dim=1)
    torch.testing.assert_close(m(tok, ln), m(longer, ln))
    # seeded, without touching the global RNG
    state = torch.random.get_rng_state()
    m2 = nlp.SentimentLSTM(d.embeddings, hidden=16, seed=0)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(m2.lstm.weight_hh_l0, m.lstm.weight_hh_l0)
    with pytest.raises(ValueError, match="hidden must be an integer >= 1"):
        nlp.SentimentLSTM(d.embeddings, hidden=0)


def test_gate_blocks_follow_pytorch_layout():
    """Block "l1.f" is rows H..2H of weight_hh_l1, and drives the forget gate."""
    d = _tiny_data()
    m = nlp.SentimentLSTM(d.embeddings, hidden=5, seed=1)
    blocks = recurrent_weights(m.lstm)
    H = 5
    W = m.lstm.weight_hh_l1.detach().double().numpy()
    for j, gate in enumerate("ifgo"):
        np.testing.assert_array_equal(blocks[f"l1.{gate}"], W[j * H:(j + 1) * H])
    # the forget gate block, applied by hand, gives PyTorch's cell state
    lstm = torch.nn.LSTM(3, H).double()
    gen = torch.Generator().manual_seed(0)
    x, h, c = (torch.randn(1, 1, n, dtype=torch.double, generator=gen) for n in (3, H, H))
    with torch.no_grad():
        _, (_, c1) = lstm(x, (h, c))
    bl = recurrent_weights(lstm)
    from lrbook.analysis import input_weights, split_gates
    wi, bi, bh = input_weights(lstm), split_gates(lstm, "bias_ih"), split_gates(lstm, "bias_hh")
    pre = {g: wi[f"l0.{g}"] @ x[0, 0].numpy() + bi[f"l0.{g}"] + bl[f"l0.{g}"] @ h[0, 0].numpy() + bh[f"l0.{g}"]
           for g in "ifgo"}
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    c_hand = sig(pre["f"]) * c[0, 0].numpy() + sig(pre["i"]) * np.tanh(pre["g"])
    np.testing.assert_allclose(c_hand, c1[0, 0].numpy(), rtol=1e-12)


@pytest.fixture(scope="module")
def trained():
    d = _tiny_data()
    return d, nlp.train_classifier(d, epochs=4, hidden=16, batch_size=32, lr=1e-2, seed=0, threads=1)


def test_training_curves_and_snapshots(trained):
    d, r = trained
    assert r.test_acc.shape == r.train_acc.shape == (5,) and r.epochs.tolist() == [0, 1, 2, 3, 4]
    assert r.step_loss.shape == (4 * 1024 // 32,)
    assert set(r.W_hh) == {f"l{k}.{g}" for k in (0, 1) for g in "ifgo"}
    assert all(v.shape == (16, 16) for v in r.W_hh.values())
    # the snapshots are the module's weights before and after training
    np.testing.assert_array_equal(r.W_hh["l0.o"], r.model.lstm.weight_hh_l0.detach().double().numpy()[48:])
    fresh = nlp.SentimentLSTM(d.embeddings, hidden=16, seed=0)
    np.testing.assert_array_equal(r.W_hh0["l1.g"], fresh.lstm.weight_hh_l1.detach().double().numpy()[32:48])
    assert all(np.abs(r.dW[k]).max() > 0 for k in r.W_hh)
    # split_loss_and_accuracy() agrees with the recorded final test accuracy
    assert nlp.split_loss_and_accuracy(r.model, d.test)[1] == pytest.approx(r.test_acc[-1])


def test_synthetic_task_is_learnable(trained):
    d, r = trained
    assert r.test_acc[0] < 0.65                          # near chance before training
    assert r.test_acc[-1] > 0.8, r.test_acc              # learnt in a few epochs (0.91 measured)
    assert r.train_loss[-1] < r.train_loss[0]


def test_training_is_reproducible(trained):
    d, r = trained
    r2 = nlp.train_classifier(d, epochs=4, hidden=16, batch_size=32, lr=1e-2, seed=0, threads=1)
    np.testing.assert_array_equal(r.step_loss, r2.step_loss)
    np.testing.assert_array_equal(r.W_hh["l1.i"], r2.W_hh["l1.i"])


def test_diverging_training_says_so():
    d = _tiny_data()
    d.embeddings[d.vocab.stoi["w0"]] = np.nan          # a corrupted word vector: the loss turns NaN
    with pytest.raises(nlp.SentimentDivergedError, match="epoch 1"):
        nlp.train_classifier(d, epochs=2, hidden=8, seed=0, threads=1)
    r = nlp.train_classifier(d, epochs=2, hidden=8, seed=0, threads=1, on_divergence="stop")
    assert r.diverged_epoch == 1 and len(r.test_acc) == 1


def test_truncation_at_full_rank_reproduces_trained_weights(trained):
    d, r = trained
    full = nlp.truncated_model(r, 16)
    for k, W in recurrent_weights(full.lstm).items():
        np.testing.assert_allclose(W, r.W_hh[k], atol=1e-6)
    zero = nlp.truncated_model(r, 0)
    for k, W in recurrent_weights(zero.lstm).items():
        np.testing.assert_allclose(W, r.W_hh0[k], atol=1e-7)
    # everything else stays trained
    assert torch.equal(zero.lstm.weight_ih_l0, r.model.lstm.weight_ih_l0)
    assert torch.equal(zero.readout.weight, r.model.readout.weight)


def test_gate_analysis(trained):
    d, r = trained
    ga = nlp.gate_analysis(r, d.test, ranks=[0, 2, 16])
    assert ga.keys == [f"l{k}.{g}" for k in (0, 1) for g in "ifgo"]
    assert ga.singular_values.shape == (8, 16)
    assert np.all(np.diff(ga.singular_values, axis=1) <= 1e-12)
    np.testing.assert_allclose(ga.singular_values[3], np.linalg.svd(r.dW["l0.o"], compute_uv=False))
    np.testing.assert_allclose(ga.norm_dW, np.linalg.norm(ga.singular_values, axis=1))
    assert ga.accuracy[-1] == pytest.approx(ga.accuracy_trained, abs=1e-9)     # R = H: the trained net
    assert ga.accuracy[0] == pytest.approx(nlp.split_loss_and_accuracy(nlp.truncated_model(r, 0), d.test)[1])
    assert ga.rank_for_accuracy(1.0) == 0                         # every rank is within 1 of the trained accuracy
    assert len(ga.table()) == 8 and ga.table()[1]["gate"] == "forget"


def test_gate_analysis_summaries_of_known_accuracies():
    """rank_for_accuracy and recovered on accuracies written down by hand."""
    z = np.zeros(1)
    ga = nlp.GateAnalysis(keys=["l0.i"], singular_values=np.ones((1, 4)), singular_values_shuffled=np.ones((1, 4)),
                          norm_dW=z, norm_W0=z, participation_ratio=z, top10=z, ranks=np.array([0, 1, 2, 4]),
                          accuracy=np.array([0.5, 0.7, 0.88, 0.9]), loss=np.zeros(4),
                          accuracy_trained=0.9, loss_trained=0.0)
    # the smallest rank whose accuracy is >= 0.9 - tolerance
    assert [ga.rank_for_accuracy(t) for t in (0.0, 0.01, 0.05, 0.2, 0.5)] == [4, 4, 2, 1, 0]
    assert ga.recovered(2) == pytest.approx((0.88 - 0.5) / (0.9 - 0.5))
    assert ga.recovered(0) == 0.0 and ga.recovered(4) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="R must be one of the measured ranks"):
        ga.recovered(3)
    worse = dataclasses.replace(ga, accuracy_trained=0.95)
    assert worse.rank_for_accuracy(0.01) == -1                    # no rank comes within 0.01 of 0.95


# --------------------------------------------------------------------------- synthetic task
def test_synthetic_is_seeded_and_labels_follow_the_rule():
    a, b = _tiny_data(), _tiny_data()
    np.testing.assert_array_equal(a.train.tokens, b.train.tokens)
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    c = nlp.make_synthetic(n_train=1024, n_test=256, n_sentiment_words=6, n_neutral=20, n_distractors=4,
                           max_len=10, seed=4)
    assert not np.array_equal(a.train.tokens, c.train.tokens)
    for split in ("train", "test"):
        score = nlp.synthetic_score(a, split)
        sp = a.train if split == "train" else a.test
        assert np.all(score != 0)
        np.testing.assert_array_equal(sp.labels, (score > 0).astype(int))
    assert 0.35 < a.train.labels.mean() < 0.65
    # the planted direction separates positive from negative words
    proj = a.embeddings @ a.info["direction"]
    pol = a.info["polarity"]
    assert proj[pol > 0].min() > proj[pol < 0].max()
    assert a.train.lengths.min() >= 6 and a.train.lengths.max() <= 10
    # negation changes labels: the bag of words (summed polarities, negators ignored) is right on
    # every sentence without a negated sentiment word, and wrong on some of those with one
    neg = [a.vocab.stoi[w] for w in ("not", "never", "hardly")]
    tok, labels = a.train.tokens, a.train.labels
    bag = pol[tok].sum(axis=1)
    after_negator = np.zeros_like(tok, dtype=bool)
    after_negator[:, 1:] = np.isin(tok[:, :-1], neg)
    negated = (after_negator & (pol[tok] != 0)).any(axis=1)
    assert 0.1 < negated.mean() < 0.9
    np.testing.assert_array_equal(labels[~negated], (bag[~negated] > 0).astype(int))
    bag_wrong = (bag > 0).astype(int) != labels
    assert bag_wrong.mean() > 0.05 and negated[bag_wrong].all()


def test_synthetic_validates():
    with pytest.raises(ValueError, match="max_len must be an integer >= 6"):
        nlp.make_synthetic(min_len=6, max_len=5)
    with pytest.raises(ValueError, match="p_negation"):
        nlp.make_synthetic(p_negation=1.5)


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LRBOOK_DATA", str(tmp_path))
    assert nlp.default_data_dir() == Path(tmp_path)
    assert nlp.download_plan()[0].archive.parent == Path(tmp_path)
