"""The faults injected by the test suite, for the reliability page.

Each record names the test that injects the fault (``file::function``);
``tests/test_bad_inputs.py::test_every_listed_fault_is_tested`` checks that every
named test exists, so the page cannot list a fault that is no longer tested.
"""

from __future__ import annotations

from typing import NamedTuple


class Fault(NamedTuple):
    """One injected fault and what the library does about it."""

    id: str
    test: str
    fault: str
    outcome: str


FAULTS: list[Fault] = [
    Fault(
        "download-truncated-or-wrong-digest",
        "test_data.py::test_bad_downloads_are_rejected_and_leave_nothing",
        "a local server sends a truncated file, or one whose sha256 differs from the pin",
        "DigestMismatchError/DataFetchError naming the file and both digests; nothing left on disk",
    ),
    Fault(
        "cache-corrupted-refetched",
        "test_data.py::test_corrupted_cache_is_refetched",
        "a cached download is overwritten with other bytes",
        "rejected with a warning and fetched again; never used",
    ),
    Fault(
        "cache-corrupted-offline",
        "test_data.py::test_corrupted_cache_offline_is_never_used",
        "a corrupted cached file and no network",
        "error naming the file, the upstream URL and the folder to put it in; the file is not used",
    ),
    Fault(
        "offline-nothing-cached",
        "test_data.py::test_offline_error_says_where_to_put_the_file",
        "no network and no cached file",
        "error naming the file, the upstream URL and the folder to put it in",
    ),
    Fault(
        "concurrent-downloads",
        "test_data.py::test_concurrent_processes_never_see_a_partial_file",
        "four processes fetch the same file at once",
        "each sees either no file or the whole verified file (write to a temp file, then rename)",
    ),
    Fault(
        "download-killed",
        "test_data.py::test_killed_download_leaves_a_hidden_temporary_the_next_fetch_removes",
        "SIGKILL in the middle of a download into the data home",
        "only a hidden temporary file (named with the dead process's pid) is left, and the next "
        "download of that file removes it",
    ),
    Fault(
        "http-or-remote-host",
        "test_data.py::test_only_https_or_loopback_http",
        "a download address that is not https (other than loopback http for tests)",
        "ValueError before any connection",
    ),
    Fault(
        "cache-name-escape",
        "test_data.py::test_resolve_in_data_home_rejects_escapes",
        "relative paths with .., absolute paths, drive letters, backslashes or NUL",
        "ValueError: cache paths never leave the data home",
    ),
    Fault(
        "pickle-in-mean-file",
        "test_vocabulary.py::test_mean_loading_refuses_arbitrary_pickles",
        "an image-mean file whose unpickling would run code",
        "refused by torch.load(weights_only=True); the code never runs",
    ),
    Fault(
        "dictionary-cache-corrupted",
        "test_dictionary.py::test_corrupt_or_mismatched_cache_is_rebuilt_and_replaced",
        "a dictionary cache file truncated, with a wrong header, shape or content hash",
        "DictionaryCacheWarning; the vocabulary is embedded again and the file atomically replaced",
    ),
    Fault(
        "vocabulary-download-offline",
        "test_download_messages.py::test_a_vocabulary_that_cannot_be_downloaded_is_one_message",
        "a published vocabulary at a local address that answers 404, or where nothing listens",
        "one DataFetchError naming the file, its address, the folder and $SKSPLICE_DATA; "
        "the transfer's errors kept as __context__, not printed",
    ),
    Fault(
        "fit-misspelt-clip-name",
        "test_offline_paths.py::test_a_misspelt_model_or_tag_is_refused_before_the_vocabulary_"
        "is_downloaded",
        "SpliceTransformer.fit with CLIPEmbedder('ViT-B-23'), a misspelt tag or a malformed "
        "hf-hub: name, and a vocabulary not yet downloaded",
        "ValueError with close matches; nothing downloaded, no data home made",
    ),
    Fault(
        "dictionary-embedding-stopped",
        "test_first_run.py::test_a_stopped_embedding_resumes_where_it_stopped",
        "KeyboardInterrupt from the embedder while the 3rd of 3 blocks of 2,000 concepts "
        "is embedded (or the last of 3 blocks of 5,000)",
        "'stopped: N of 2000 concepts kept (2 of 3 blocks) in <name>.partial'; the next run "
        "embeds only the other block, gives the same array bit for bit and removes the folder",
    ),
    Fault(
        "dictionary-block-damaged",
        "test_first_run.py::test_a_damaged_block_is_embedded_again",
        "a finished block of a stopped embedding with a byte of its array flipped",
        "DictionaryCacheWarning naming the block; its concepts embedded again",
    ),
    Fault(
        "dictionary-block-disk-full",
        "test_first_run.py::test_blocks_that_cannot_be_written_leave_no_folder",
        "writing a finished block fails with ENOSPC",
        "one DictionaryCacheWarning; the embedding goes on; no folder or temporary file left",
    ),
    Fault(
        "data-home-full-or-read-only",
        "test_faults.py::test_unwritable_data_home_warns_and_returns_embeddings",
        "writing the dictionary cache fails with ENOSPC after 100 bytes, or with EROFS",
        "DictionaryCacheWarning, the right embeddings, no partial or temporary file",
    ),
    Fault(
        "two-processes-one-cache",
        "test_faults.py::test_two_processes_build_same_cache",
        "two processes build the same dictionary cache at the same moment (both miss the "
        "cache and embed: the test asserts the race happened)",
        "both get the right array; one valid cache file, no temporary files",
    ),
    Fault(
        "device-out-of-memory",
        "test_faults.py::test_out_of_memory_halves_chunk_and_carries_on",
        "torch.OutOfMemoryError from chunks larger than 1, 5 or 7 rows (injected on CPU)",
        "UserWarning per halving; the chunk size halves until it fits; same weights",
    ),
    Fault(
        "device-out-of-memory-one-row",
        "test_faults.py::test_out_of_memory_on_one_row_gives_up_naming_chunk_size",
        "torch.OutOfMemoryError even for a single row",
        "OutOfMemoryError naming the chunk size of 1 row, the row and the problem size",
    ),
    Fault(
        "interrupted-command",
        "test_cli.py::test_interrupt_leaves_valid_output",
        "KeyboardInterrupt after two images of sksplice decompose --format json -o FILE",
        "exit code 130; FILE untouched; FILE.partial is valid JSON with the two finished records",
    ),
    Fault(
        "interrupted-first-import",
        "test_interactive.py::test_interrupt_during_the_first_model_load_leaves_the_session_usable",
        "SIGINT (a notebook's interrupt button) while the first fit imports open_clip",
        "KeyboardInterrupt once the import is done, open_clip whole in sys.modules; the next "
        "fit works without restarting Python",
    ),
    Fault(
        "terminated-or-killed-command",
        "test_cli.py::test_killed_decompose_keeps_the_previous_file",
        "SIGTERM, SIGHUP or SIGKILL after the first record of sksplice decompose -f csv -o FILE",
        "the previous FILE survives; SIGTERM (SIGHUP): exit 143 (129) and the finished rows in "
        "FILE.partial; "
        "SIGKILL: the temporary file names the killed process and the next write removes it",
    ),
    Fault(
        "killed-while-embedding-images",
        "test_image_cache.py::test_a_run_killed_keeps_the_batches_it_embedded",
        "SIGKILL while sksplice decompose embeds a folder's images",
        "the embeddings of every batch made before it are in the cache of image embeddings "
        "(kept as each batch is made), and the next run embeds only the rest",
    ),
    Fault(
        "offline-no-cached-weights",
        "test_cli.py::test_offline_without_weights_fails_fast_with_advice",
        "no cached CLIP weights and a Hub host that does not resolve (or HF_HUB_OFFLINE=1)",
        "exit 1 within seconds (47.9 s of retries before), naming the cache and how to get them",
    ),
    Fault(
        "diagnostics-on-stdout",
        "test_cli.py::test_stdout_holds_only_results",
        "decompose and profile in every format to standard output, progress and warnings on",
        "standard output parses (json, jsonl, csv); every message is on standard error",
    ),
    Fault(
        "dask-worker-killed",
        "test_distributed.py::test_worker_killed_mid_run_loses_and_duplicates_no_rows",
        "SIGKILL to a Dask worker process in the middle of a transform",
        "Dask retries the blocks; every row exactly once, equal to the in-process result",
    ),
    Fault(
        "model-loaded-concurrently",
        "test_embedders.py::test_concurrent_loading_creates_one_model",
        "six threads ask for the same CLIP model at once",
        "the model is created once and shared",
    ),
    Fault(
        "float32-cannot-certify",
        "test_solvers.py::test_float32_ill_conditioned_rows_are_certified",
        "float32 products stall on an ill-conditioned low-dimensional dictionary",
        "the uncertified rows are solved again in float64; no ConvergenceWarning",
    ),
    Fault(
        "certificate-residual-moved",
        "test_certificate.py::test_the_certificate_takes_every_correlation_where_the_residual_moved_far",
        "the float64 refinement moves a row's residual towards a concept of large norm that "
        "was not among the concepts recomputed (a gap of 0.99 was reported as 3.5e-08)",
        "the concepts not recomputed are bounded; where the bound could exceed the maximum, "
        "the row's correlations with every concept are formed in float64",
    ),
    Fault(
        "concepts-of-small-norm",
        "test_certificate.py::test_a_concept_of_small_norm_takes_its_exact_weight",
        "a dictionary whose concepts have norms of 1e-7 to 1e-14",
        "exact weights (to 1e-9), certified: the small solves are regularised relative to each "
        "concept's own norm",
    ),
    Fault(
        "determinism-across-processes",
        "test_faults.py::test_bit_identical_across_processes",
        "the same transform in two separate Python processes on CPU",
        "bit-identical CSR arrays (on CUDA: equal to the solver tolerance, not bit for bit)",
    ),
    Fault(
        "pandas-from-spmatrix-fills-nan",
        "test_pandas_compat.py::test_transformer_and_editor_pandas_output_hold_zeros",
        "pandas 3.0.x, whose DataFrame.sparse.from_spmatrix fills unstored entries with NaN",
        "pandas output of SpliceTransformer and ConceptEditor still holds zeros (fill value 0)",
    ),
    Fault(
        "sparse-frame-nan-fill",
        "test_pandas_compat.py::test_non_zero_fill_is_refused_by_name",
        "a sparse DataFrame whose fill value is NaN, pd.NA or another non-zero value",
        "ValueError naming the column and its fill value; never read as zeros",
    ),
    Fault(
        "tiny-penalty-or-unreachable-l0",
        "test_solvers.py::test_small_penalties_cost_a_bounded_multiple_of_a_normal_one",
        "l1_penalty 0.01 and 1e-12, and target_l0=200 with 32-dimensional embeddings",
        "work bounded against the normal penalty (a UserWarning below the smallest certifiable "
        "penalty); target_l0 above the dimension refused before any solve",
    ),
    Fault(
        "centred-row-rounding-noise",
        "test_transformer.py::test_centred_row_that_is_numerically_zero_gets_zero_weights",
        "a float32 row in the direction of the given image_mean, whose centred embedding is "
        "rounding noise",
        "all-zero weights, as in float64 (centred norms below 4 sqrt(d) eps of the dtype are "
        "zero); not a code of renormalised noise",
    ),
    Fault(
        "concept-rows-in-authors-order",
        "test_porting.py::test_concept_rows_are_spot_checked_against_their_names",
        "concept_embeddings of a named vocabulary in the authors' order (least frequent first)",
        "with an embedder, ValueError naming the first row that does not match its concept and "
        "saying the rows are reversed; never decomposed under the wrong names",
    ),
    Fault(
        "output-is-a-named-pipe",
        "test_data.py::test_atomic_write_writes_through_a_named_pipe",
        "an output path (report -o, decompose -o, a cache file) that is a named pipe",
        "written through to the reader; the pipe stays a pipe, no temporary file",
    ),
    Fault(
        "output-is-a-character-device",
        "test_data.py::test_atomic_write_writes_through_character_devices",
        "an output path that is a character device (a node of /dev/null; /dev/fd/1 as well)",
        "written through in place; the device node is never replaced by a regular file",
    ),
    Fault(
        "output-is-the-full-device",
        "test_data.py::test_atomic_write_full_device_fails_and_keeps_the_node",
        "an output path that is a node of /dev/full (every write fails with ENOSPC)",
        "OSError (No space left on device); the node is kept",
    ),
    Fault(
        "output-is-a-symlink",
        "test_data.py::test_atomic_write_follows_a_symlink_and_keeps_it",
        "an output path that is a symbolic link (or a chain of links, or a dangling link)",
        "the file it points to is replaced atomically; the links stay links; a link into a "
        "missing folder is refused naming both paths",
    ),
    Fault(
        "output-is-a-folder-or-socket",
        "test_data.py::test_atomic_write_refuses_a_folder_and_a_socket",
        "an output path that is a folder or a Unix socket",
        "IsADirectoryError / OSError naming the path and what it is; nothing replaced",
    ),
    Fault(
        "dictionary-cache-crafted",
        "test_dictionary.py::test_crafted_cache_with_valid_digest_is_rebuilt",
        "a dictionary cache with a valid header and digest but NaN, inf, float16, float64, "
        "int8, bool or Fortran-order values",
        "DictionaryCacheWarning naming the file; embedded again and replaced",
    ),
    Fault(
        "dictionary-cache-wrong-width",
        "test_dictionary.py::test_cache_of_the_wrong_width_is_rebuilt_by_the_transformer",
        "a dictionary cache with a valid digest whose array is narrower than the embeddings",
        "DictionaryCacheWarning naming the file and both shapes; rebuilt; the fit succeeds",
    ),
    Fault(
        "dictionary-cache-bomb",
        "test_dictionary.py::test_cache_declaring_a_huge_array_is_refused_before_inflating_it",
        "a dictionary cache under 2 MB whose compressed entry inflates to 256 MiB",
        "refused from the archive directory before inflating (peak under 16 MiB); rebuilt",
    ),
    Fault(
        "dictionary-cache-writer-killed",
        "test_dictionary.py::test_temporary_file_of_a_killed_writer_is_removed_by_the_next_build",
        "SIGKILL in the middle of writing a dictionary cache file",
        "the hidden temporary file (named with the dead writer's pid) is removed by the next "
        "build; writers still alive keep theirs",
    ),
    Fault(
        "dataset-overwrite-not-a-dataset",
        "test_distributed.py::test_overwrite_refuses_what_this_writer_did_not_write",
        "write_parquet / to_zarr with overwrite=True on a folder of other files, a file, or a "
        "link to a device",
        "FileExistsError naming the path and what it holds; nothing deleted; a link to a "
        "dataset is followed and kept",
    ),
    Fault(
        "dataset-write-interrupted",
        "test_faults.py::test_interrupted_dataset_write_waits_for_its_running_blocks",
        "Ctrl-C during to_zarr / write_parquet with Dask's threaded scheduler, blocks "
        "still running in its threads",
        "KeyboardInterrupt once the running blocks have ended; no temporary folder left "
        "(zarr made its chunk folders again after the removal)",
    ),
    Fault(
        "dataset-writer-killed",
        "test_faults.py::test_killed_dataset_writer_leaves_a_folder_the_next_write_removes",
        "SIGKILL in the middle of write_parquet",
        "the hidden temporary folder (named with the dead writer's pid) is removed by the "
        "next write of that dataset; a live writer's folder is kept",
    ),
    Fault(
        "fit-interrupted-or-failed",
        "test_faults.py::test_interrupted_refit_leaves_the_transformer_as_it_was",
        "KeyboardInterrupt while a refit of a fitted SpliceTransformer calibrates target_l0; "
        "a first fit that raises (also of ZeroShotClassifier, ConceptRetriever, "
        "ConceptEditor and ConceptProjector)",
        "the transformer as it was: the attributes of its last complete fit (not the new "
        "dictionary with the old penalty), or not fitted (NotFittedError)",
    ),
    Fault(
        "search-interrupted",
        "test_search.py::test_an_interrupted_search_is_left_as_it_was",
        "KeyboardInterrupt in the fold fits or the refit of a SplicePathSearchCV, first "
        "or later search",
        "the search as it was: its earlier results and best estimator, or not fitted "
        "(NotFittedError)",
    ),
    Fault(
        "dataset-overwrite-killed",
        "test_faults.py::test_a_dataset_an_interrupted_overwrite_moved_aside_is_kept_until_a_new_"
        "one_is_in_place",
        "a writer killed between moving the previous dataset aside and moving the new one in",
        "the previous dataset kept in its folder and named in a warning by the next write; "
        "removed only once a new dataset is in place",
    ),
    Fault(
        "read-only-shared-data-home",
        "test_dictionary.py::test_dictionary_cache_goes_to_the_cache_folder_not_the_data_home",
        "a data home that must not be written (read-only, shared between users)",
        "the dictionary cache goes to --cache-dir / $SKSPLICE_CACHE / the per-user cache "
        "folder; nothing is written to the data home",
    ),
    Fault(
        "image-folder-unreadable",
        "test_cli_files.py::test_an_unreadable_sub_folder_is_named_not_dropped",
        "a sub-folder of an image folder that cannot be listed (no read permission)",
        "a warning naming the folder and the system's reason; its images left out, the others "
        "decomposed; the folder given itself unreadable: exit 2 naming it; a class folder "
        "unreadable: named in profile's refusal and report's warning",
    ),
    Fault(
        "image-link-broken-or-looping",
        "test_cli_files.py::test_a_broken_link_to_a_class_folder_is_named_with_where_it_leads",
        "a broken symbolic link (to an image, or to a class folder), or links in a loop",
        "the link and where it leads named: as a skipped image (an image name), or in a "
        "warning (any other name: not counted among the files left out)",
    ),
    Fault(
        "image-file-unreadable",
        "test_image_files.py::test_a_file_the_system_cannot_read_is_not_called_corrupt",
        "an image file the system refuses to read (EACCES, EIO)",
        "InvalidImageError: 'could not be read' with the system's reason, not 'corrupt'; "
        "skipped and named with on_error='skip' (the command's default)",
    ),
    Fault(
        "image-exif-damaged",
        "test_image_files.py::test_a_png_with_damaged_exif_data_is_embedded_as_stored_with_a_"
        "warning",
        "EXIF data that PIL cannot parse (a PNG or WebP eXIf chunk that is no TIFF header)",
        "the image embedded as stored (not turned by an orientation), with a warning naming "
        "the file; PIL's own warnings about a file (Corrupt EXIF data) named with it by the "
        "command",
    ),
    Fault(
        "image-pil-warnings",
        "test_image_files.py::test_warnings_about_damaged_files_name_each_file_at_the_users_line",
        "image files PIL warns about without naming them (Corrupt EXIF data), several "
        "with the same text, decoded in threads or DataLoader worker processes",
        "one ImageFileWarning per file and text, its path named, in input order, at the "
        "caller's line (the caller's filters apply to it; nothing unnamed is shown)",
    ),
]
