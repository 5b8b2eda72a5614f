"""A vocabulary that cannot be downloaded on a first run is said in one message.

The published vocabulary is stood in for by a pin at an address of a local server
(``tests/_helpers_data.py``) that answers 404, or of a port where nothing listens,
as a machine without network access finds.
"""

from __future__ import annotations

import socket
import traceback

import numpy as np
import pytest
import requests

from sksplice import cli
from sksplice._download import DataFetchError, RemoteFile
from sksplice.transformer import SpliceTransformer
from sksplice.vocabulary import VOCABULARIES

from ._helpers_cli import model_args
from ._helpers_data import LocalServer, start_server
from ._helpers_transformer import CountingEmbedder


@pytest.fixture
def unreachable_laion(isolated_folders, monkeypatch):
    """Registers 'laion' at an address of a local server that answers 404 ("404"), or
    on a port where nothing listens ("refused"); returns the address."""
    state = LocalServer(routes={})
    httpd, thread = start_server(state)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]

    def register(kind: str) -> str:
        url = state.url("/laion.txt") if kind == "404" else f"http://127.0.0.1:{closed}/laion.txt"
        monkeypatch.setitem(VOCABULARIES, "laion", RemoteFile("vocab/laion.txt", url, "0" * 64))
        return url

    yield register
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize("kind", ["404", "refused"])
def test_a_vocabulary_that_cannot_be_downloaded_is_one_message(tmp_path, unreachable_laion, kind):
    url = unreachable_laion(kind)
    splice = SpliceTransformer(
        embedder=CountingEmbedder(dim=8), vocabulary="laion", data_home=tmp_path / "home"
    )
    with pytest.raises(DataFetchError) as info:
        splice.fit(np.random.default_rng(0).standard_normal((4, 8)))
    error = info.value
    message = str(error)
    # what file, from where, where to put it by hand, and the environment variable
    assert message.startswith(f"Could not download 'vocab/laion.txt' from {url} (")
    assert f"in the folder {str(tmp_path / 'home' / 'vocab')!r} (create it first)" in message
    assert "as 'laion.txt'" in message and "$SKSPLICE_DATA" in message
    # one traceback: requests' and urllib3's errors are kept behind it, not printed
    shown = "".join(traceback.format_exception(error))
    assert shown.count("Traceback (most recent call last)") == 1
    assert error.__cause__ is None and error.__suppress_context__
    assert isinstance(error.__context__, requests.RequestException)
    assert "The pretrained weights" not in message  # (a fake embedder has none)


def test_the_command_says_a_failed_download_in_one_line_and_the_chain_with_debug(
    run_env, tmp_path, unreachable_laion, capsys
):
    url = unreachable_laion("refused")
    args = ["decompose", str(run_env), *model_args(tmp_path)]
    args[args.index("--vocabulary") + 1] = "laion"
    code = cli.main(args)
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("sksplice: error:")]
    assert len(lines) == 1 and len(err.strip().splitlines()) == 1, err
    assert lines[0].startswith(f"sksplice: error: could not download 'vocab/laion.txt' from {url}")
    assert "Traceback" not in err
    # --debug shows the errors behind it too
    assert cli.main([*args, "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "requests.exceptions.ConnectionError" in err
    assert "During handling of the above exception" in err
