"""The ``search`` command: images ranked by a query of concepts or a text."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import warnings
from typing import Any

import numpy as np

from ._checks import (
    _check_options,
    _check_outputs_apart,
    _check_query_concepts,
    _parse_query,
    _warn_unknown_extension,
)
from ._decompose import (
    _decompose,
    _Decomposition,
    _iter_rows,
    _write_records,
    check_embeddings_run,
    decompose_embeddings,
    refuse_one_input_early,
    refuse_one_input_unpublished,
    rounded,
    transformed,
)
from ._inputs import _collect_images, _outputs_of
from ._logging import _usage
from ._output import check_standard_output_encodes, no_concept, plural, significant

logger = logging.getLogger(__name__)


def _cmd_search(args: argparse.Namespace) -> int:
    from ._embeddings import are_embeddings, check_names_options

    embeddings = are_embeddings(args.inputs)
    with _usage():
        check_names_options(args, embeddings)
        query = _parse_query(args)

    def vocabulary_check(concepts: list[str], every: list[str]) -> object:
        return _check_query_concepts(query, concepts, args.concepts, every)

    if embeddings:
        # embeddings computed already (.npy files): only the vocabulary is embedded
        run = check_embeddings_run(
            args, lambda emb: ({}, {"file name": emb.names}), vocabulary_check
        )
        with _usage():
            query = _check_query_concepts(
                query, run.plan.concepts, args.concepts, run.plan.all_concepts
            )
        _warn_cut_query(args)
        dec = decompose_embeddings(args, run)
        return _search(args, dec, query)
    with _usage():
        paths = _collect_images(args.inputs, _outputs_of(args), classes=False)
        refuse_one_input_early(args, paths)
        _check_outputs_apart(args, paths)
        plan = _check_options(
            args,
            vocabulary_check,
            before_model=lambda: refuse_one_input_unpublished(args, paths),
        )
        query = _check_query_concepts(query, plan.concepts, args.concepts, plan.all_concepts)
        check_standard_output_encodes(
            getattr(args, "output", None), {}, {"file name": paths, "concept": plan.concepts}
        )
    _warn_unknown_extension(args)
    _warn_cut_query(args)
    return _search(args, _decompose(args, paths, plan), query)


def _warn_cut_query(args: argparse.Namespace) -> None:
    """Say before the images are embedded that ``--text`` is longer than the context of the
    model's text tower (its end would be cut, and said only once they are); the warning
    of its embedding is then not said again."""
    from ..embedders import texts_cut_by

    args.query_cut_said = False
    if args.text is None:
        return
    warning = texts_cut_by(args.model, [args.text])
    if warning is not None:
        logger.warning(
            "--text is longer than the context of %s's text tower (%d tokens), which its "
            "tokenizer cuts it to: the query is only its beginning; shorten it",
            args.model,
            warning.context_length,
        )
        args.query_cut_said = True


def _search(args: argparse.Namespace, dec: _Decomposition, query: dict[str, float] | None) -> int:
    """Rank the rows of ``dec`` by the ``query`` (None: by the concepts of ``--text``) and
    write the results."""
    # (a second of imports, after the checks: a misspelt folder is refused at once)
    import scipy.sparse
    from sklearn.base import clone

    from ..retrieval import ConceptRetriever

    splice = dec.splice
    W = dec.W = transformed(splice, dec.X)
    if query is None:
        # a text query is centred like the vocabulary's texts, not like the images
        text_splice = clone(splice).set_params(image_mean=splice.concept_mean_, verbose=0)
        # (the centre is given, so the rows fit sees only set the dimension)
        text_splice.fit(splice.concept_mean_[None, :])
        retriever = ConceptRetriever(splice=text_splice, mode=args.mode).fit(W)
        with warnings.catch_warnings():
            if getattr(args, "query_cut_said", False):
                from ..exceptions import TruncatedTextWarning

                warnings.simplefilter("ignore", TruncatedTextWarning)
            query = retriever.decompose_text(args.text)
        if query:
            shown = ", ".join(f"{name} {significant(weight, 3)}" for name, weight in query.items())
            logger.info("the query text decomposes into: %s", shown)
        else:
            logger.warning(
                "the query text decomposes to no concept at --l1-penalty %g; nothing matches "
                "(a smaller --l1-penalty keeps more concepts, or give them with --concepts)",
                splice.l1_penalty_,
            )
    else:
        retriever = ConceptRetriever(concepts=splice.get_feature_names_out(), mode=args.mode)
        retriever.fit(W)
    if query:
        with warnings.catch_warnings():
            # (the retriever's advice is of its Python parameters; the command says that no
            # image holds the query's concepts below, in its own words)
            warnings.filterwarnings("ignore", message="no item holds the concept")
            indices, scores = retriever.search(query, k=args.n_results)
        if not len(indices) and not np.any(W.data if scipy.sparse.issparse(W) else W):
            # (the penalty, not the query, is the cause: say so, and what to do)
            logger.warning("%s", no_concept(W.shape[0], dec.unit))
        elif not len(indices):
            logger.warning(
                "no image of the %d holds %s concept of the query (%s, --mode %s)%s",
                W.shape[0],
                _how(args.mode),
                ", ".join(query),
                args.mode,
                _held_by_none(retriever, query),
            )
        elif len(indices) < min(args.n_results, W.shape[0]):
            # (fewer results than asked for: the others hold no query concept, not a
            # weaker match; said, lest the list read as cut short)
            logger.info(
                "%d of the %d images hold %s concept of the query (--mode %s): %s, not %d",
                len(indices),
                W.shape[0],
                _how(args.mode),
                args.mode,
                plural(len(indices), "result"),
                args.n_results,
            )
    else:
        indices, scores = np.array([], dtype=np.int64), np.array([], dtype=np.float64)
    metadata = {
        **dec.metadata,
        # (a text's weights to 6 significant digits, as the images' weights)
        "query": {
            "concepts": query if args.text is None else {k: rounded(v) for k, v in query.items()},
            "text": args.text,
            "mode": args.mode,
        },
        "results": len(indices),
    }
    # only the results are described (top concepts, l0, cosine), best first
    found = dataclasses.replace(
        dec, paths=[dec.paths[int(i)] for i in indices], X=dec.X[indices], W=W[indices]
    )
    # (a query concept a result holds beyond its top -k concepts is listed after them,
    # with its rank: the concepts searched for are always shown)
    ranked = splice.top_concepts(found.W, k=None, kind="weights") if query else []
    records = (
        {"result": rank, "score": rounded(score), **_with_query(rec, ranked[rank - 1], query)}
        for rank, (rec, score) in enumerate(
            zip(_iter_rows(found, args.top_k, True), scores, strict=True), start=1
        )
    )
    return _write_records(
        args.output,
        args.format,
        metadata,
        records,
        len(indices),
        "results",
        dec.skipped,
        dec.n_inputs,
        extra=("result", "score"),
        query=True,
        unit=dec.unit,
    )


def _held_by_none(retriever: Any, query: dict[str, float]) -> str:
    """``; no image holds 'dog'`` for the query concepts that no image of the fitted
    ``retriever`` holds (with --mode and, the one that leaves no result, among concepts
    held alike); empty where each is held by some image. The images may show them with
    other concepts."""
    from .._names import listed

    held = np.diff(retriever.weights_.indptr)  # (its weights by concept: CSC)
    column = {str(name): j for j, name in enumerate(retriever.concepts_)}
    none = [name for name in query if not held[column[name]]]
    if not none:
        return ""
    return (
        f"; no image holds {listed(none, 5, repr)} (the images may show "
        f"{'it' if len(none) == 1 else 'them'} with other concepts: look at their decompositions)"
    )


def _how(mode: str) -> str:
    """Which concepts of the query an image must hold to be a result of ``mode``."""
    return {"or": "any", "and": "every", "min": "every"}[mode]


def _with_query(
    rec: dict[str, Any], ranked: list[tuple[str, float]], query: dict[str, float] | None
) -> dict[str, Any]:
    """The record ``rec`` of a result with its concepts of the ``query`` marked
    (``"query": True``) and those it holds beyond its top concepts appended, each with
    its ``rank`` among all of the row's concepts (``ranked``, in the order of
    ``top_concepts``): a text query of 15 concepts left the reader to guess which of
    the top ones made the score."""
    query = query or {}
    listed = {c["concept"] for c in rec["concepts"]}
    top = [{**c, "query": True} if c["concept"] in query else c for c in rec["concepts"]]
    more = [
        {"concept": name, "weight": rounded(weight), "rank": at, "query": True}
        for at, (name, weight) in enumerate(ranked, start=1)
        if name in query and name not in listed
    ]
    return {**rec, "concepts": [*top, *more]}
