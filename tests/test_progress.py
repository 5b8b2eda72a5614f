"""Progress bars: redrawn in place on a terminal, whole lines in a log file or a pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sksplice import _progress

from .conftest import TESTS_DATA


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_whole_lines_at_most_every_interval(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(_progress, "LOG_INTERVAL", 30.0)
    log = io.StringIO()
    bar = _progress.progress(100, desc="CLIP texts", unit="text", file=log)
    # (tqdm reads the time through the bar's _time: step it by 1 s per update)
    bar._time = lambda: clock[0]
    bar.start_t = bar.last_print_t = 0.0
    with bar:
        for _ in range(100):
            clock[0] += 1.0
            bar.update(1)
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    # the start, one line per 30 s (a 100 s run: at 30, 60, 90 s... tqdm waits for the
    # update after each interval) and the end, never the same count twice
    assert lines[0].startswith("CLIP texts:   0% 0/100")
    assert lines[-1].startswith("CLIP texts: 100% 100/100")
    assert 4 <= len(lines) <= 6, lines
    counts = [line.partition(" [")[0] for line in lines]
    assert len(set(counts)) == len(counts)


def test_a_description_with_brackets_keeps_its_lines():
    # (the repeated closing line is told by the count before the times, the last " [")
    log = io.StringIO()
    with _progress.progress(4, desc="ViT-B-32 [laion2b].bin", unit="B", file=log) as bar:
        bar.update(4)
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("ViT-B-32 [laion2b].bin:   0% 0/4")
    assert lines[-1].startswith("ViT-B-32 [laion2b].bin: 100% 4/4") and len(lines) == 2


def test_a_log_gets_no_cursor_movements_from_bars_open_at_once():
    # A bar opened while another was (the concept dictionary embedded while the images
    # are) wrote tqdm's "cursor up", ESC [ A, on a line of its own into a job's log.
    log = io.StringIO()
    outer = _progress.progress(3, desc="CLIP images", unit="image", file=log)
    with _progress.progress(5, desc="embedding concepts", unit="concept", file=log) as bar:
        bar.update(5)
    outer.update(3)
    outer.close()
    text = log.getvalue()
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    assert all(line.strip() for line in lines), lines
    assert [line.partition(":")[0] for line in lines] == [
        "CLIP images",
        "embedding concepts",
        "embedding concepts",
        "CLIP images",
    ]
    # any control sequence, also those with private parameters (hide the cursor)
    lines = _progress._Lines(log := io.StringIO())
    lines.write("\x1b[?25lembedding concepts: 5/5\x1b[2K\x1b[1;31m")
    assert log.getvalue() == "embedding concepts: 5/5\n"


def test_a_terminal_gets_the_bar_redrawn_in_place():
    term = _Terminal()
    with _progress.progress(10, desc="decomposing", unit="img", file=term) as bar:
        bar.update(10)
    assert "\r" in term.getvalue()
    assert "|" in term.getvalue()  # the bar itself


class _KernelStream(io.StringIO):
    """A Jupyter kernel's standard error (ipykernel's OutStream): no terminal, but its
    front end honours carriage returns."""


_KernelStream.__module__ = "ipykernel.iostream"


@pytest.fixture
def kernel_without_widgets(monkeypatch):
    """A Jupyter kernel (its shell stood in for) whose environment lacks ipywidgets, as a
    bare JupyterLab install does; its stream, for the test to make standard error (in
    the test itself: pytest's capture sets sys.stderr again after the fixtures)."""
    import types
    import warnings

    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setattr(_progress, "_has_ipywidgets", lambda: False)
    monkeypatch.delitem(sys.modules, "tqdm.autonotebook", raising=False)
    monkeypatch.delitem(sys.modules, "tqdm.auto", raising=False)
    stream = _KernelStream()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (tqdm's "IProgress not found" among them)
        yield stream


def test_a_notebook_without_ipywidgets_gets_the_bar_redrawn_in_place(
    kernel_without_widgets, monkeypatch
):
    # Without ipywidgets, a notebook got a line every 30 s, as a log file does (nothing
    # for the first 30 s of a decomposition), and tqdm's warning to install ipywidgets.
    monkeypatch.setattr(sys, "stderr", kernel_without_widgets)
    with _progress.progress(10, desc="decomposing", unit="img") as bar:
        bar.update(3)
        bar.update(7)
    text = kernel_without_widgets.getvalue()
    assert "\r" in text and "|" in text  # redrawn, with the bar itself
    assert "decomposing:   0%" in text and "decomposing: 100%" in text
    assert "tqdm.autonotebook" not in sys.modules


def test_a_message_in_a_notebook_is_not_glued_onto_a_live_bar(kernel_without_widgets, monkeypatch):
    before, found, after = _message_during_a_bar(kernel_without_widgets, monkeypatch)
    assert found and before.rstrip(" ").endswith("\r"), repr(before)
    assert "decomposing: 100%" in after


def test_a_kernel_stream_outside_a_kernel_is_a_log(monkeypatch):
    # (the stream's type alone does not say that a front end shows it)
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    log = _KernelStream()
    with _progress.progress(10, desc="decomposing", unit="img", file=log) as bar:
        bar.update(10)
    assert "\r" not in log.getvalue()


def test_disabled_writes_nothing(capsys):
    with _progress.progress(10, desc="decomposing", unit="img", disable=True) as bar:
        bar.update(10)
    assert capsys.readouterr().err == ""


def test_a_closed_stream_is_no_terminal():
    closed = io.StringIO()
    closed.close()
    assert not _progress._is_terminal(closed)
    assert not _progress._is_terminal(object())


def test_embedder_progress_in_a_log_has_no_carriage_returns(tiny_clip_model, capsys):
    from sksplice import CLIPEmbedder

    embedder = CLIPEmbedder(
        model=tiny_clip_model, pretrained=None, modality="text", device="cpu", verbose=True
    )
    embedder.embed_text(["a cat", "a dog", "a red car"])
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "CLIP texts: 100% 3/3" in err


@pytest.mark.parametrize("quiet", [False, True])
def test_command_line_progress_in_a_log(tmp_path, tiny_clip_model, quiet):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        Image.new("RGB", (20, 20), (60 * i, 40, 200)).save(images / f"{i}.png")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("cat\ndog\nred\nblue\ncar\n", encoding="utf-8")
    env = {
        **os.environ,
        "SKSPLICE_MODEL_CONFIGS": str(TESTS_DATA / f"{tiny_clip_model}.json"),
        "SKSPLICE_DATA": str(tmp_path / "data"),
        "SKSPLICE_CACHE": str(tmp_path / "cache"),
    }
    log = tmp_path / "run.log"
    with open(log, "w") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "sksplice", "decompose", str(images)]
            + ["--model", tiny_clip_model, "--pretrained", "none", "--device", "cpu"]
            + ["--vocabulary", str(vocab), "--l1-penalty", "0.05"]
            + (["--quiet"] if quiet else []),
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=300,
        )
    assert proc.returncode == 0, log.read_text()
    text = log.read_text()
    assert "\r" not in text
    if quiet:
        assert "decomposing" not in text and "CLIP images" not in text
    else:
        assert "CLIP images: 100% 3/3" in text
        assert "decomposing: 100% 3/3" in text
    # the results alone on standard output
    assert "%" not in proc.stdout and len(proc.stdout.splitlines()) >= 3


def _message_during_a_bar(stream, monkeypatch) -> tuple[str, str, str]:
    """What standard error (``stream``) holds before, at and after a command line's
    message written while a bar is drawn."""
    import logging

    from sksplice.cli._logging import _stderr_logging

    monkeypatch.setattr(sys, "stderr", stream)
    with (
        _stderr_logging(quiet=False, debug=False),
        _progress.progress(10, desc="decomposing", unit="img") as bar,
    ):
        bar.update(3)
        logging.getLogger("sksplice.cli.test").warning("a message")
        bar.update(7)
    return stream.getvalue().partition("sksplice: warning: a message\n")


@pytest.mark.parametrize("terminal", [True, False])
def test_a_command_line_message_is_not_glued_onto_a_live_bar(monkeypatch, terminal):
    """On a terminal a message written while a bar is drawn clears the bar, goes on its own
    line, and the bar is drawn again below it; a log gets the message as it is."""
    stream = _Terminal() if terminal else io.StringIO()
    before, found, after = _message_during_a_bar(stream, monkeypatch)
    text = stream.getvalue()
    assert found, text
    if terminal:
        # the bar's line was cleared (a carriage return after it) before the message ...
        assert before.rstrip(" ").endswith("\r"), repr(before)
        # ... and drawn again after it
        assert "decomposing:  30%" in after and "decomposing: 100%" in after, repr(after)
    else:
        assert before.endswith("\n") and "\r" not in text


class _FailingStream(io.StringIO):
    """Standard error that takes nothing (a pipe whose reader went away, a full disk)."""

    def __init__(self, error: Exception, terminal: bool = False) -> None:
        super().__init__()
        self.error, self.terminal, self.writes = error, terminal, 0

    def isatty(self) -> bool:
        return self.terminal

    def write(self, text: str) -> int:
        self.writes += 1
        raise self.error

    def flush(self) -> None:
        raise self.error


_STREAM_ERRORS = [
    BrokenPipeError(32, "Broken pipe"),
    OSError(28, "No space left on device"),
    ValueError("I/O operation on closed file."),
]


@pytest.mark.parametrize("error", _STREAM_ERRORS, ids=["closed-pipe", "full", "closed-file"])
def test_a_failing_stream_ends_the_bars_not_the_work(monkeypatch, error):
    stream = _FailingStream(error)
    monkeypatch.setattr(sys, "stderr", stream)
    with _progress.progress(10, desc="decomposing", unit="img") as bar:
        for _ in range(10):
            bar.update(1)
    # the first write failed; nothing more was written there, by this bar or a later one
    with _progress.progress(5, desc="CLIP images", unit="image") as later:
        later.update(5)
    assert stream.writes == 1
    assert later.disable


def test_no_standard_error_gets_no_bar(monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)  # (a process started without file 2)
    with _progress.progress(3, desc="decomposing", unit="img") as bar:
        bar.update(3)
    assert bar.disable


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("error", _STREAM_ERRORS[:2], ids=["closed-pipe", "full"])
def test_the_command_stops_writing_to_a_failing_standard_error(monkeypatch, error, terminal):
    """Once a message cannot be written, no more are tried (nor logging's own report of
    the failure, a traceback), and progress bars are not drawn there either."""
    import logging

    from sksplice.cli._logging import _stderr_logging

    stream = _FailingStream(error, terminal=terminal)
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(logging, "raiseExceptions", True)
    log = logging.getLogger("sksplice.cli.test")
    with _stderr_logging(quiet=False, debug=False):
        log.warning("a first message")
        log.info("a second message")
        with _progress.progress(10, desc="decomposing", unit="img") as bar:
            bar.update(10)
        log.error("a last message")
    assert stream.writes == 1


def test_overlapping_verbose_blocks_leave_the_logger_as_it_was(monkeypatch):
    # Two fits with verbose=1 in threads of a search, not leaving in the reverse order
    # of entering: the first one out took the handler away from the second, and the
    # second one out left the logger at INFO for good.
    import logging

    monkeypatch.setattr(logging.root, "handlers", [])
    package = logging.getLogger("sksplice")
    before = (package.level, list(package.handlers))
    a, b = _progress.verbose_logging(1), _progress.verbose_logging(1)
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert package.handlers and package.getEffectiveLevel() <= logging.INFO  # b still shows
    b.__exit__(None, None, None)
    assert (package.level, list(package.handlers)) == before


def test_loading_a_clip_model_leaves_the_root_logger_alone(
    tiny_clip_model, monkeypatch, capsys, tmp_path
):
    # open_clip logs through logging.info(), which gives a root logger without
    # handlers one (logging.basicConfig): verbose=1 then printed every message twice,
    # "[sksplice] ..." and "INFO:sksplice...: ...", and later fits only the latter.
    import logging

    from sksplice import CLIPEmbedder, SpliceTransformer
    from sksplice._models import clear_model_cache

    monkeypatch.setattr(logging.root, "handlers", [])  # (as in a plain script)
    clear_model_cache()
    X = np.random.default_rng(0).normal(size=(120, 32))
    for _ in range(2):
        SpliceTransformer(
            embedder=CLIPEmbedder(tiny_clip_model, pretrained=None, modality="text", device="cpu"),
            vocabulary=[f"word{i}" for i in range(12)],
            target_l0=2,
            verbose=1,
            cache_dir=tmp_path,
            device="cpu",
        ).fit(X)
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if "calibrating" in line]
        assert lines and all(line.startswith("[sksplice] ") for line in lines), err
        assert "INFO:" not in err
        assert logging.root.handlers == []
        clear_model_cache()  # (the second fit loads the model again)


def test_open_clip_warnings_still_show_while_a_model_loads(monkeypatch, capsys):
    import logging

    from sksplice._models import _root_logger_left_alone

    monkeypatch.setattr(logging.root, "handlers", [])
    with _root_logger_left_alone():
        logging.info("an open_clip info line")
        logging.warning("an open_clip warning")
    assert logging.root.handlers == []
    err = capsys.readouterr().err
    assert "an open_clip warning" in err and "info line" not in err


def test_model_loads_in_threads_share_the_root_logger_guard(monkeypatch, capsys):
    # Two models loading at once: the first one out took the handler away while the
    # second still loaded, whose open_clip logging.info() then gave the root logger a
    # handler for good.
    import logging

    from sksplice._models import _root_logger_left_alone

    monkeypatch.setattr(logging.root, "handlers", [])
    a, b = _root_logger_left_alone(), _root_logger_left_alone()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    logging.info("open_clip, still loading the second model")
    assert logging.root.handlers == [logging.lastResort]
    b.__exit__(None, None, None)
    assert logging.root.handlers == []


def test_a_verbose_fit_while_a_model_loads_still_shows_its_messages(monkeypatch, capsys):
    # The root logger holding logging.lastResort (a model loading in another thread) is
    # no handler that shows INFO records: the verbose fit printed nothing.
    import logging

    from sksplice._models import _root_logger_left_alone

    monkeypatch.setattr(logging.root, "handlers", [])
    with _root_logger_left_alone(), _progress.verbose_logging(1):
        logging.getLogger("sksplice.transformer").info("calibrating target_l0=2")
    assert capsys.readouterr().err.splitlines() == ["[sksplice] calibrating target_l0=2"]


def test_a_log_keeps_its_interval_when_the_work_slows_down(monkeypatch):
    # (tqdm's dynamic miniters would learn "a line every N units" from the fast start
    # and, with no maxinterval to correct it, space the lines out once the rate drops)
    clock = [0.0]
    monkeypatch.setattr(_progress, "LOG_INTERVAL", 10.0)
    log = io.StringIO()
    bar = _progress.progress(10_000, desc="decomposing", unit="row", file=log)
    bar._time = lambda: clock[0]
    bar.start_t = bar.last_print_t = 0.0
    printed: list[float] = []
    with bar:
        for step in range(400):
            # 100 rows a second for 20 s, then 10 times slower
            clock[0] += 0.1 if step < 200 else 1.0
            before = log.getvalue().count("\n")
            bar.update(10)
            if log.getvalue().count("\n") > before:
                printed.append(clock[0])
    gaps = np.diff(printed)
    assert len(printed) >= 20, printed
    assert gaps.max() <= 11.0, printed


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo terminals are POSIX")
@pytest.mark.parametrize("size", [(0, 0), (0, 30), (100, 0), (100, 30)])
def test_a_terminal_of_no_columns_or_lines_shows_the_bar(size, monkeypatch):
    # The pseudo terminal of `script` or `docker exec -t` says it is 0 x 0: tqdm drew
    # nothing there (no width, and a bar below the last of 0 lines is hidden)
    import fcntl
    import pty
    import struct
    import termios

    main, sub = pty.openpty()
    columns, lines = size
    fcntl.ioctl(sub, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    with open(sub, "w", closefd=True) as stream:
        assert stream.isatty()
        # (standard error: where tqdm asks the terminal its size)
        monkeypatch.setattr(sys, "stderr", stream)
        with _progress.progress(4, desc="decomposing", unit="image") as bar:
            bar.update(4)
        monkeypatch.undo()
    os.set_blocking(main, False)
    parts = []
    try:
        while True:
            try:
                parts.append(os.read(main, 65536))
            except OSError:  # (nothing more: EAGAIN, or EIO once the other end is closed)
                break
    finally:
        os.close(main)
    shown = b"".join(parts).decode()
    assert "decomposing: 100%" in shown and "4/4" in shown, shown
    if columns:
        assert max(len(part) for part in shown.split("\r")) <= columns
