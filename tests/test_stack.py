"""Library warnings name the user's line and are shown once per line, across resets."""

from __future__ import annotations

import warnings

import pytest

from sksplice import _stack


@pytest.fixture(autouse=True)
def _fresh_record(monkeypatch):
    monkeypatch.setattr(_stack, "_SHOWN", set())


def _shown(action: str, calls) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter(action)
        for call in calls:
            # (a new catch_warnings for each call resets Python's own record, as
            # scikit-learn's searches do for each fit)
            with warnings.catch_warnings():
                call()
    return log


def test_default_shows_a_text_once_per_line():
    def here():
        _stack.warn_user("centre from 10 rows")

    def other_text():
        _stack.warn_user("centre from 12 rows")

    caught = _shown("default", [here, here, here, other_text])
    assert [str(w.message) for w in caught] == ["centre from 10 rows", "centre from 12 rows"]
    assert {w.filename for w in caught} == {__file__}


def test_a_warning_of_the_data_is_shown_once_whatever_line_meets_it():
    # the concepts of a vocabulary embedded alike were said again by every fit of it
    def first():
        _stack.warn_user("'dog' = 'Dog'", of_the_data=True)

    def second():
        _stack.warn_user("'dog' = 'Dog'", of_the_data=True)

    def line():
        _stack.warn_user("'dog' = 'Dog'")

    caught = _shown("default", [first, second, first])
    assert [str(w.message) for w in caught] == ["'dog' = 'Dog'"]
    # recorded in a worker process and issued again here (the folds of a search), at
    # two lines: still once
    import pickle

    from sksplice.dictionary import DuplicateConceptWarning

    _stack._SHOWN.clear()
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        _stack.warn_user(DuplicateConceptWarning("'a' = 'A'", [("a", "A")]), of_the_data=True)
    (recorded,) = [pickle.loads(pickle.dumps(w.message)) for w in log]

    def issued_here():
        _stack.warn_user(recorded)

    def issued_there():
        _stack.warn_user(recorded)

    again = _shown("default", [issued_here, issued_there])
    assert len(again) == 1 and again[0].message.groups == [("a", "A")]
    assert len(_shown("always", [first, second])) == 2  # (as Python's filters say)
    assert len(_shown("default", [line, line, lambda: line()])) == 1  # (one line)


def test_a_warning_keyed_once_as_another_text_is_shown_once_for_all_its_texts():
    def rows(n):
        return lambda: _stack.warn_user(f"centre from {n} rows", once_as="centre from few rows")

    caught = _shown("default", [rows(53), rows(54), rows(80)])
    assert [str(w.message) for w in caught] == ["centre from 53 rows"]
    # filters still match the warning's own text
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", message="centre from 5")
        _stack._SHOWN.clear()
        rows(53)()
        rows(80)()
    assert [str(w.message) for w in log] == ["centre from 80 rows"]


def test_a_warning_keyed_once_as_another_text_keeps_its_key_through_pickling():
    # (the folds of SplicePathSearchCV(n_jobs=2) record their warnings in worker processes
    # and issue them again in the caller's: three warnings for folds of 30, 31 and 38 rows)
    import pickle

    recorded = []
    for n in (30, 31, 38):
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            _stack.warn_user(f"centre from {n} rows", RuntimeWarning, once_as="few rows")
        recorded += [pickle.loads(pickle.dumps(w.message)) for w in log]
    assert [type(w) for w in recorded] == [RuntimeWarning] * 3
    caught = _shown("default", [lambda w=w: _stack.warn_user(w) for w in recorded])
    assert [str(w.message) for w in caught] == ["centre from 30 rows"]
    # a warning object given with its key (DenseCodesWarning) carries it alike
    _stack._SHOWN.clear()
    recorded = []
    for n in (30, 31, 38):
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            _stack.warn_user(UserWarning(f"{n} concepts a row"), once_as="dense codes")
        recorded += [pickle.loads(pickle.dumps(w.message)) for w in log]
    caught = _shown("default", [lambda w=w: _stack.warn_user(w) for w in recorded])
    assert [str(w.message) for w in caught] == ["30 concepts a row"]


def test_once_and_module_key_on_less():
    def line_a():
        _stack.warn_user("same text")

    def line_b():
        _stack.warn_user("same text")

    assert len(_shown("once", [line_a, line_b])) == 1
    _stack._SHOWN.clear()
    assert len(_shown("module", [line_a, line_b])) == 1
    _stack._SHOWN.clear()
    assert len(_shown("default", [line_a, line_b])) == 2


def test_always_error_and_ignore_are_python_s():
    def warn():
        _stack.warn_user("again", RuntimeWarning)

    assert len(_shown("always", [warn, warn, warn])) == 3
    assert _shown("ignore", [warn]) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="again"):
            warn()


def test_a_filter_on_the_message_or_module_applies():
    def warn():
        _stack.warn_user("noisy message")

    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="noisy")
        warn()
        warnings.resetwarnings()
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", module=__name__)
        warn()
    assert log == []


def test_a_warning_instance_keeps_its_class_and_attributes():
    class Carrying(UserWarning):
        def __init__(self, text, items):
            super().__init__(text)
            self.items = items

    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        _stack.warn_user(Carrying("skipped 1", ["a.png"]))
    assert log[0].category is Carrying and log[0].message.items == ["a.png"]


def test_no_user_frame_names_the_library_line_that_warns():
    # A library function run by a thread pool has no frame outside the library
    # (the pool and threading are standard library): the warning names the line of
    # sksplice that warns, not warn_user's own.
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    import sksplice._means as means

    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        with ThreadPoolExecutor(1) as pool:
            pool.submit(means.center_rows, np.zeros((1, 3)), np.ones(3)).result()
    assert len(log) == 1 and "are all zero" in str(log[0].message)
    assert log[0].filename == means.__file__


def test_frozen_standard_library_frames_are_not_the_user_s():
    # A worker process of a parallel search starts in runpy, a frozen module: its
    # frame, "<frozen runpy>", was named as the user's line.
    import numpy as np

    import sksplice._means as means

    code = compile("means.center_rows(np.zeros((1, 3)), np.ones(3))", "<frozen runpy>", "exec")
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("always")
        exec(code, {"means": means, "np": np})
    assert len(log) == 1 and log[0].filename == __file__


def test_new_filters_show_a_warning_again_as_python_does():
    def warn():
        _stack.warn_user("centre from 10 rows")

    with warnings.catch_warnings(record=True) as log:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        warn()
        warn()  # the same filters: once
        assert len(log) == 1
        warnings.resetwarnings()  # other filters: again, as Python's registry would
        warnings.filterwarnings("default", category=UserWarning)
        warnings.simplefilter("default")
        warn()
        assert len(log) == 2
        # a filter for other warnings only does not make it new (sympy adds one when
        # first imported, which happens inside one fit's catch_warnings while a CLIP
        # model loads: a search showed the same warning twice)
        warnings.filterwarnings("once", category=DeprecationWarning)
        warnings.filterwarnings("ignore", module="some_other_library")
        warn()
    assert len(log) == 2


def test_a_filter_a_library_adds_during_one_fit_does_not_show_it_twice():
    def fit(first: bool):
        if first:  # (a module imported for the first time: its filter stays in this fit)
            warnings.filterwarnings("once", category=DeprecationWarning)
        _stack.warn_user("centre from 10 rows")

    caught = _shown("default", [lambda: fit(True), lambda: fit(False), lambda: fit(False)])
    assert [str(w.message) for w in caught] == ["centre from 10 rows"]


def test_a_warning_only_recorded_is_shown_where_warnings_are_displayed():
    # A user who looked at a fit's warnings with catch_warnings(record=True) was
    # never shown them: after that block the same warning was counted as shown and
    # never reached standard error (Python's own registry shows it again).
    def warn():
        _stack.warn_user("centre from 10 rows")

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        with warnings.catch_warnings(record=True) as inspected:
            warn()
        assert len(inspected) == 1
        warn()
        warn()  # displayed once, as before
    assert [str(w.message) for w in shown] == ["centre from 10 rows"]


def test_each_record_block_records_a_warning_once():
    # The key held the id of each block's list.append, which a later block's often
    # reuses: its warning was taken as shown, and not recorded.
    def warn():
        _stack.warn_user("centre from 10 rows")

    counts = []
    for _ in range(5):
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("default")
            warn()
            warn()
        counts.append(len(log))
    assert counts == [1, 1, 1, 1, 1]


def test_a_block_shown_afresh_shows_again_what_was_shown_and_keeps_its_own_record():
    # Each command-line run in one process (tests, a notebook calling sksplice.cli.main)
    # showed a warning only in the first run: the record of shown warnings outlived it.
    def here():
        _stack.warn_user("no concept of 2 classes can be significant")

    def afresh():
        with _stack.shown_afresh():
            here()
            here()

    caught = _shown("default", [here, afresh, afresh, here])
    assert len(caught) == 3  # (before; once in each block; not again after them)


def test_blocks_shown_afresh_in_two_threads_at_once_keep_their_records_apart():
    # The record was swapped for the whole process: with block A entered, then B, then A
    # left, B's end put A's own record in place of the process's.
    import threading

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with _stack.shown_afresh():
            _stack.warn_user("a's warning")
            a_in.set()
            b_in.wait(10)
        a_out.set()

    process_record = _stack._SHOWN
    with warnings.catch_warnings(record=True) as log:
        warnings.simplefilter("default")
        _stack.warn_user("shown before any run")
        before = set(process_record)
        thread = threading.Thread(target=a)
        thread.start()
        a_in.wait(10)
        with _stack.shown_afresh():
            _stack.warn_user("b's warning")
            b_in.set()
            a_out.wait(10)
        thread.join(10)
    assert sorted(str(w.message) for w in log) == [
        "a's warning",
        "b's warning",
        "shown before any run",
    ]
    after = _stack._SHOWN
    assert after is process_record and after == before


def test_warn_at_a_main_module_without_source_still_warns():
    # `python -c`, a script read from a pipe and the interactive prompt run __main__ with
    # the built-in importer as its loader: warn_explicit asked it for the line's source,
    # which raised ImportError (a figure's layout warning stopped its savefig there)
    import importlib.machinery

    main = {"__name__": "__main__", "__loader__": importlib.machinery.BuiltinImporter}
    with pytest.warns(UserWarning, match="labels run over") as record:
        _stack.warn_at(("<stdin>", 3, main), "labels run over", UserWarning)
    assert record[0].filename == "<stdin>" and record[0].lineno == 3
    # once per line, as Python's own registry keys it
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("default")
        _stack.warn_at(("<stdin>", 3, main), "labels run over", UserWarning)
        _stack.warn_at(("<stdin>", 3, main), "labels run over", UserWarning)
    assert len(again) == 1


def test_a_figure_saved_by_code_from_a_pipe_warns_of_its_layout_and_is_written(tmp_path):
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "import matplotlib; matplotlib.use('Agg')\n"
        "import matplotlib.pyplot as plt\n"
        "from sksplice.analysis import concept_profiles\n"
        "from sksplice.plotting import plot_class_profile\n"
        "rng = np.random.default_rng(0)\n"
        "W = (rng.random((60, 30)) > 0.6) * rng.random((60, 30))\n"
        "names = [f'a fairly long concept name number {i}' for i in range(30)]\n"
        "y = np.array(['woman'] * 30 + ['man'] * 30)\n"
        "profiles = concept_profiles(W, y, names)\n"
        "fig, axes = plt.subplots(1, 3)\n"
        "for ax, cls in zip(axes, ['woman', 'man', 'woman']):\n"
        "    plot_class_profile(profiles, cls, k=10, ax=ax)\n"
        f"fig.savefig({str(tmp_path / 'crowded.png')!r})\n"
    )
    for how in (["-c", script], ["-"]):
        (tmp_path / "crowded.png").unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-W", "default", *how],
            input=script if how == ["-"] else None,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "FigureLayoutWarning" in done.stderr and "ImportError" not in done.stderr
        assert (tmp_path / "crowded.png").stat().st_size > 0
