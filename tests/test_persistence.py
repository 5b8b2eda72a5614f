"""The sksplice version in the pickles of estimators, and the warning when it differs."""

from __future__ import annotations

import inspect
import os
import pickle
import time
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline

import sksplice
from sksplice import (
    CLIPEmbedder,
    ConceptEditor,
    ConceptProjector,
    ConceptRetriever,
    SentenceTransformerEmbedder,
    SplicePathSearchCV,
    SplicePipeline,
    SpliceTransformer,
    ZeroShotClassifier,
)
from sksplice.exceptions import InconsistentVersionWarning

try:
    from ._helpers_transformer import CountingEmbedder, random_vocabulary
except ImportError:  # pragma: no cover
    from _helpers_transformer import CountingEmbedder, random_vocabulary

STAMP = "_sksplice_version"
NOT_WARNED = "error::sksplice.exceptions.InconsistentVersionWarning"


pytestmark = pytest.mark.usefixtures("isolated_folders")


@pytest.fixture
def fitted():
    """A fitted SpliceTransformer (precomputed concept embeddings) and its data."""
    rng = np.random.default_rng(3)
    concepts = random_vocabulary(20)
    raw = rng.normal(size=(20, 8))
    X = rng.normal(size=(30, 8)) + 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (a centre learned from 30 rows)
        est = SpliceTransformer(vocabulary=concepts, concept_embeddings=raw, device="cpu").fit(X)
    return est, X


#: One instance of each public estimator, by name.
ESTIMATORS = {
    "CLIPEmbedder": lambda: CLIPEmbedder(model="sksplice-test-tiny", pretrained=None, device="cpu"),
    "SentenceTransformerEmbedder": lambda: SentenceTransformerEmbedder(device="cpu"),
    "SpliceTransformer": lambda: SpliceTransformer(
        embedder=CountingEmbedder(dim=8), vocabulary=["a", "b"], device="cpu"
    ),
    "ConceptEditor": lambda: ConceptEditor(remove=["a"]),
    "ConceptProjector": lambda: ConceptProjector(directions=np.eye(2, 4)),
    "ConceptRetriever": lambda: ConceptRetriever(concepts=["a", "b"]),
    "ZeroShotClassifier": lambda: ZeroShotClassifier(CountingEmbedder(dim=8), classes=["a", "b"]),
    "SplicePathSearchCV": lambda: SplicePathSearchCV(
        make_pipeline(SpliceTransformer(embedder=CountingEmbedder(dim=8))), [0.1, 0.2]
    ),
    "SplicePipeline": lambda: SplicePipeline(
        [("splice", SpliceTransformer(embedder=CountingEmbedder(dim=8), vocabulary=["a", "b"]))]
    ),
}


def test_every_public_estimator_is_checked():
    public = {
        name
        for name in sksplice.__all__
        if inspect.isclass(getattr(sksplice, name))
        and issubclass(getattr(sksplice, name), BaseEstimator)
    }
    assert public == set(ESTIMATORS)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_public_estimator_records_the_version(name):
    est = ESTIMATORS[name]()
    assert type(est).__name__ == name
    state = est.__getstate__()
    assert state[STAMP] == sksplice.__version__
    # (the state scikit-learn's BaseEstimator returns is kept: the parameters are there)
    assert set(est.get_params(deep=False)) <= set(state)

    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        again = pickle.loads(pickle.dumps(est))
    assert STAMP not in vars(again)  # the version is not an attribute of the loaded one
    assert sorted(vars(again)) == sorted(vars(est))

    state[STAMP] = "0.0.1"
    given = dict(state)
    blank = type(est).__new__(type(est))
    with pytest.warns(InconsistentVersionWarning) as record:
        blank.__setstate__(state)
    assert state == given  # the caller's dict is left as it was
    (warning,) = [w.message for w in record]
    assert warning.estimator_name == name
    assert warning.original_version == "0.0.1"
    assert warning.current_version == sksplice.__version__


@pytest.mark.filterwarnings(NOT_WARNED)
def test_a_round_trip_in_the_same_release_warns_nothing(fitted, tmp_path):
    est, X = fitted
    W = est.transform(X).toarray()
    blob = pickle.dumps(est)
    assert STAMP.encode() in blob and sksplice.__version__.encode() in blob
    np.testing.assert_allclose(pickle.loads(blob).transform(X).toarray(), W, atol=1e-7)
    joblib.dump(est, tmp_path / "splice.joblib")
    np.testing.assert_allclose(
        joblib.load(tmp_path / "splice.joblib").transform(X).toarray(), W, atol=1e-7
    )


def test_a_pickle_of_another_release_warns_naming_both_versions(fitted, tmp_path, monkeypatch):
    est, X = fitted
    from sksplice import _persistence

    with monkeypatch.context() as m:
        m.setattr(_persistence, "__version__", "0.0.1")  # saved by release 0.0.1
        joblib.dump(est, tmp_path / "splice.joblib")
    with pytest.warns(InconsistentVersionWarning) as record:
        loaded = joblib.load(tmp_path / "splice.joblib")
    (warning,) = [w.message for w in record]
    assert isinstance(warning, UserWarning)
    assert (warning.estimator_name, warning.original_version, warning.current_version) == (
        "SpliceTransformer",
        "0.0.1",
        sksplice.__version__,
    )
    assert str(warning) == (
        f"SpliceTransformer was pickled by sksplice 0.0.1 and is loaded by sksplice "
        f"{sksplice.__version__}: its fitted state may not match this release, and using it "
        f"may fail or give wrong results. Refit it with sksplice {sksplice.__version__}, or "
        f"load it with sksplice 0.0.1, the release that saved it."
    )
    # (the warning names the caller's line, not the library's)
    assert record[0].filename == __file__
    loaded.transform(X)


def test_a_state_of_another_release_warns_before_it_fails(fitted):
    # A release whose transformer had no _dictionary_digest: loading it warns, and the
    # AttributeError transform raises later has that explanation.
    est, X = fitted
    state = est.__getstate__()
    state[STAMP] = "0.0.1"
    del state["_dictionary_digest"]
    old = SpliceTransformer.__new__(SpliceTransformer)
    with pytest.warns(InconsistentVersionWarning, match=r"sksplice 0\.0\.1 and is loaded by"):
        old.__setstate__(state)
    with pytest.raises(AttributeError, match="_dictionary_digest"):
        old.transform(X)


def test_a_pickle_without_a_version_warns_unknown(fitted, monkeypatch):
    est, X = fitted
    from sksplice._persistence import VersionStampMixin

    with monkeypatch.context() as m:
        # saved by a release that did not record its version: scikit-learn's state only
        m.delattr(VersionStampMixin, "__getstate__")
        blob = pickle.dumps(est)
    assert STAMP.encode() not in blob
    with pytest.warns(InconsistentVersionWarning) as record:
        loaded = pickle.loads(blob)
    loaded.transform(X)  # (a warning: the estimator is loaded all the same)
    (warning,) = [w.message for w in record]
    assert warning.original_version is None
    assert record[0].filename == __file__
    assert warning.estimator_name == "SpliceTransformer"
    text = str(warning)
    assert "SpliceTransformer was pickled by an unknown version of sksplice" in text
    assert f"loaded by sksplice {sksplice.__version__}" in text
    assert "or load it with the sksplice release that saved it" in text


def test_the_warning_pickles():
    # (a warning raised on a Dask worker reaches the client pickled)
    warning = InconsistentVersionWarning(
        estimator_name="SpliceTransformer", original_version=None, current_version="9.9"
    )
    again = pickle.loads(pickle.dumps(warning))
    assert type(again) is InconsistentVersionWarning
    assert (again.estimator_name, again.original_version, again.current_version) == (
        "SpliceTransformer",
        None,
        "9.9",
    )
    assert str(again) == str(warning)


# ------------------------------------------------ files named by parameters, in the state
FILES = "_sksplice_input_files"


def _memory_pipeline(cache, **params):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    splice = SpliceTransformer(embedder=CountingEmbedder(dim=8), device="cpu", **params)
    return Pipeline([("splice", splice), ("lr", LogisticRegression())], memory=str(cache))


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 8)) + 0.5
    return X, (X[:, 0] > np.median(X[:, 0])).astype(int)


def test_a_memory_pipeline_refits_after_the_vocabulary_file_is_edited(tmp_path):
    # joblib.Memory hashed the unfitted transformer, whose vocabulary is a path: the
    # transformer fitted on the file's old content came back from the cache.
    X, y = _data()
    vocabulary = tmp_path / "concepts.txt"
    vocabulary.write_text("dog\ncat\ncar\n")
    for given in (str(vocabulary), vocabulary):
        cache = tmp_path / f"cache-{type(given).__name__}"
        vocabulary.write_text("dog\ncat\ncar\n")
        first = _memory_pipeline(cache, vocabulary=given).fit(X, y)
        assert list(first[0].concepts_) == ["dog", "cat", "car"]
        again = _memory_pipeline(cache, vocabulary=given).fit(X, y)
        assert list(again[0].concepts_) == ["dog", "cat", "car"]
        assert len(list(cache.rglob("output.pkl"))) == 1  # (a cache hit)
        vocabulary.write_text("tree\nsky\ncar\nboat\n")
        edited = _memory_pipeline(cache, vocabulary=given).fit(X, y)
        assert list(edited[0].concepts_) == ["tree", "sky", "car", "boat"]
        assert len(list(cache.rglob("output.pkl"))) == 2


def test_a_memory_pipeline_refits_after_a_mean_file_is_edited(tmp_path):
    X, y = _data()
    mean = tmp_path / "mean.npy"
    # (centres of norm at most 1, as means of L2-normalised embeddings are)
    old_centre, new_centre = np.full(8, 0.25), np.arange(8.0) / 20
    np.save(mean, old_centre)
    first = _memory_pipeline(tmp_path / "cache", vocabulary=["a", "b", "c"], image_mean=mean)
    np.testing.assert_allclose(first.fit(X, y)[0].mean_, old_centre)
    np.save(mean, new_centre)
    second = _memory_pipeline(tmp_path / "cache", vocabulary=["a", "b", "c"], image_mean=mean)
    np.testing.assert_allclose(second.fit(X, y)[0].mean_, new_centre)


@pytest.mark.filterwarnings(NOT_WARNED)
def test_the_digests_of_files_are_in_the_state_only(tmp_path):
    import copy

    from sklearn.base import clone

    X, _ = _data()
    vocabulary = tmp_path / "concepts.txt"
    vocabulary.write_text("dog\ncat\ncar\n")
    est = SpliceTransformer(
        embedder=CountingEmbedder(dim=8), vocabulary=str(vocabulary), device="cpu"
    )
    digests = est.__getstate__()[FILES]
    assert list(digests) == ["vocabulary"]
    assert joblib.hash(est) == joblib.hash(clone(est))
    vocabulary.write_text("dog\ncat\ncar\nboat\n")
    assert est.__getstate__()[FILES] != digests
    est.fit(X)
    for again in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est)):
        assert FILES not in vars(again) and sorted(vars(again)) == sorted(vars(est))
        np.testing.assert_allclose(again.transform(X).toarray(), est.transform(X).toarray())
    # a file gone (or a name, a list, an array) adds nothing, and pickling works
    vocabulary.unlink()
    assert FILES not in est.__getstate__()
    joblib.dump(est, tmp_path / "splice.joblib")
    assert list(joblib.load(tmp_path / "splice.joblib").concepts_) == ["dog", "cat", "car", "boat"]
    assert FILES not in SpliceTransformer(vocabulary=["a"], image_mean=np.ones(8)).__getstate__()
    assert FILES not in SpliceTransformer().__getstate__()  # ("laion": a name)


def test_a_memory_pipeline_refits_after_the_checkpoint_file_is_replaced(tiny_clip_model, tmp_path):
    # joblib.Memory hashed the embedders, whose pretrained is a path: the embeddings and
    # the transformer of the old checkpoint came back from the cache, used with the
    # weights of the new one.
    import open_clip
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    checkpoint = tmp_path / "tiny.pt"
    texts = ["a dog", "a cat", "a car", "a tree", "a house", "a boat"] * 4
    y = [0, 1] * 12

    def pipeline(memory):
        embedder = CLIPEmbedder(
            tiny_clip_model, pretrained=str(checkpoint), modality="text", device="cpu"
        )
        splice = SpliceTransformer(
            embedder=embedder,
            vocabulary=random_vocabulary(20),
            modality="text",
            text_mean="concepts",
            l1_penalty=0.05,
            device="cpu",
        )
        steps = [("embed", embedder), ("splice", splice), ("lr", LogisticRegression())]
        return Pipeline(steps, memory=memory)

    for seed, mtime in ((0, 1_000_000_000), (1, 2_000_000_000)):
        torch.manual_seed(seed)
        torch.save(open_clip.create_model(tiny_clip_model).state_dict(), checkpoint)
        os.utime(checkpoint, ns=(mtime, mtime))  # (two mtimes, whatever the clock)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # (random weights)
            cached = pipeline(str(tmp_path / "memory")).fit(texts, y)
            fresh = pipeline(None).fit(texts, y)
        np.testing.assert_array_equal(cached["splice"].dictionary_, fresh["splice"].dictionary_)
        np.testing.assert_allclose(cached.predict_proba(texts), fresh.predict_proba(texts))


@pytest.mark.filterwarnings(NOT_WARNED)
def test_a_large_file_is_identified_without_reading_it_and_any_replacement_shows(
    tmp_path, monkeypatch
):
    # A checkpoint of gigabytes was read whole the first time each process pickled or
    # hashed the embedder (every worker of a search or a cluster): a few seconds per GB.
    import shutil

    import sksplice._persistence as persistence

    monkeypatch.setattr(persistence, "_LARGE_BYTES", 4)
    reads = []
    monkeypatch.setattr("sksplice._data.file_sha256", lambda path: reads.append(path) or "x")
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"weights 1")
    embedder = CLIPEmbedder("sksplice-test-tiny", pretrained=checkpoint, device="cpu")
    first = embedder.__getstate__()[FILES]
    assert list(first) == ["pretrained"] and not reads  # (not read)
    assert embedder.__getstate__()[FILES] == first
    seen = [first]
    # rewritten in place with its modification time set back (change time moves on)
    stamp, changed = checkpoint.stat().st_mtime_ns, checkpoint.stat().st_ctime_ns
    for _ in range(300):  # (until the change time moves: file systems keep it coarsely)
        checkpoint.write_bytes(b"weights 2")
        os.utime(checkpoint, ns=(stamp, stamp))
        if checkpoint.stat().st_ctime_ns != changed:
            break
        time.sleep(0.01)
    seen.append(embedder.__getstate__()[FILES])
    # replaced by a copy that keeps the times (cp -p, rsync -a), renamed into place
    other = tmp_path / "other.pt"
    other.write_bytes(b"weights 3")
    os.utime(other, ns=(stamp, stamp))
    shutil.copy2(other, tmp_path / "new.pt")
    os.replace(tmp_path / "new.pt", checkpoint)
    seen.append(embedder.__getstate__()[FILES])
    assert len({str(s) for s in seen}) == 3 and not reads
    # a small file is identified by its content
    monkeypatch.setattr(persistence, "_LARGE_BYTES", 1 << 20)
    assert embedder.__getstate__()[FILES] == {"pretrained": "x"} and reads == [checkpoint]


@pytest.mark.filterwarnings(NOT_WARNED)
def test_the_digest_of_a_model_folder_is_in_the_state_only(tmp_path):
    # joblib.Memory hashed the embedder, whose model is a folder: after the folder was
    # saved again (fine-tuned weights), the embeddings of the old model came back.
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights 1")
    embedder = SentenceTransformerEmbedder(model=str(folder), device="cpu")
    first = embedder.__getstate__()[FILES]
    assert list(first) == ["model"]
    hashed = joblib.hash(embedder)
    (folder / "model.safetensors").write_bytes(b"weights 2")
    os.utime(folder / "model.safetensors", ns=(1, 1))
    assert embedder.__getstate__()[FILES] != first
    assert joblib.hash(embedder) != hashed
    again = pickle.loads(pickle.dumps(embedder))
    assert FILES not in vars(again) and again.get_params() == embedder.get_params()
    # a model name, or a folder gone, adds nothing
    assert FILES not in SentenceTransformerEmbedder(device="cpu").__getstate__()
    (folder / "model.safetensors").unlink()
    folder.rmdir()
    assert FILES not in embedder.__getstate__()
