"""What a user of an interactive session (a Jupyter notebook, IPython) meets: an
interrupted cell, a cell run twice, a failed fit followed by the next cell."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from .conftest import REPO_ROOT, TESTS_DATA, TINY_MODEL


def _fresh_python(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SKSPLICE_MODEL_CONFIGS": str(TESTS_DATA / f"{TINY_MODEL}.json"),
        "SKSPLICE_CACHE": str(tmp_path / "cache"),
        "SKSPLICE_DATA": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("EAGER_IMPORT", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_interrupt_during_the_first_model_load_leaves_the_session_usable(tmp_path):
    # The interrupt button of a notebook during the first fit, while open_clip (and
    # timm, transformers, sympy...) is being imported: the KeyboardInterrupt must come
    # once the import is done, not halfway through it, which would leave modules half
    # initialised and every later fit failing until the kernel is restarted.
    code = f"""
        import signal, sys
        from sksplice import CLIPEmbedder

        class InterruptOnImport:
            def find_spec(self, name, path=None, target=None):
                if name.startswith("open_clip."):  # (a Ctrl-C halfway through the import)
                    sys.meta_path.remove(self)
                    signal.raise_signal(signal.SIGINT)
                return None

        hook = InterruptOnImport()
        sys.meta_path.insert(0, hook)
        embedder = CLIPEmbedder({TINY_MODEL!r}, pretrained=None, modality="text", device="cpu")
        try:
            embedder.fit_transform(["a dog"])
        except KeyboardInterrupt:
            print("interrupted", "open_clip" in sys.modules)
        print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        print(embedder.fit_transform(["a dog", "a cat"]).shape)
        """
    result = _fresh_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["interrupted True", "True", "(2, 32)"], result.stdout


def test_interrupt_is_not_held_back_where_sigint_has_another_handler():
    import signal

    from sksplice._interrupt import interrupt_deferred

    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        with interrupt_deferred():
            signal.raise_signal(signal.SIGINT)
            assert received == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)
