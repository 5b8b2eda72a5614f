"""Parameter and input checks shared by every module: one rule per mistake.

Each kind of mistake has one exception type, as in scikit-learn: a value of the
wrong type (a string where a number is expected, a bool where an integer is
expected, a number where a string option is expected) is a :class:`TypeError`;
a value of the right type that is out of range or not among the options is a
:class:`ValueError`. Every message names the parameter and the value, in one
format: ``"<name> must be <what>, got <value>"`` (with the type added to a
:class:`TypeError`).

An estimator checking its own parameters raises either as an
:class:`~sksplice.exceptions.InvalidParameterError` (both, as scikit-learn's own),
whose message starts with its class (:func:`parameters_of`, :func:`checks_parameters`).

Scalars go through :func:`sklearn.utils.check_scalar`, which decides type and
range; the rules here add what it leaves out (bools are not integers, NaN and
infinity are not finite numbers) and word the message. Estimators list their
scalar parameters declaratively in a class attribute ``_param_rules``
(parameter name -> rule) and check them all in ``fit`` with
:func:`validate_params`.

Array rows with NaN or infinite values are refused by :func:`check_finite_rows`,
which names the array and the rows (and, for a pandas DataFrame whose index names
its rows, their labels: see :func:`row_labels`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast, overload

import numpy as np

from .exceptions import InvalidParameterError

# (scikit-learn and scipy are imported where they are used: the command line reads a
# vocabulary file through these checks, and refuses a wrong one without loading them)
__all__ = [
    "SKIPPED_ROWS_HINT",
    "Flag",
    "Integer",
    "Number",
    "Options",
    "check_finite_rows",
    "check_flag",
    "check_input_features",
    "check_int",
    "check_label_index",
    "check_labels",
    "check_number",
    "check_option",
    "checks_parameters",
    "find_label",
    "parameters_of",
    "refuse_estimator",
    "restored_on_failure",
    "row_labels",
    "shown_label",
    "shown_rows",
    "validate_params",
]

#: Rows named in a message before "and N more".
_SHOWN_ROWS = 5


#: The longest text of a value that a message about a parameter shows whole.
_SHOWN_VALUE = 80


def _is_estimator_class(cls: type) -> bool:
    """Whether the class ``cls`` is one of estimators: it defines ``fit`` and
    ``get_params`` (looked up on the class: a DataFrame's columns ``fit`` and
    ``get_params`` are attributes of the frame, not of its class)."""
    return callable(getattr(cls, "fit", None)) and callable(getattr(cls, "get_params", None))


def _is_estimator(value: Any) -> bool:
    """Whether ``value`` is an estimator instance (a class is not)."""
    return not isinstance(value, type) and _is_estimator_class(type(value))


def _shown_value(value: Any) -> str:
    """``value`` as a message about a parameter shows it: an estimator by its class (its
    repr holds its parameters, arrays of concept embeddings among them), a long repr on
    one line and cut short."""
    from ._names import a_type

    if _is_estimator(value):
        return a_type(value)
    try:
        text = repr(value)
    except Exception:  # (a repr that fails: the value by its type)
        return a_type(value)
    if not isinstance(value, str):  # (an array's repr spans lines; a string's spaces stay)
        text = " ".join(text.split())
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 4] + " ..."


def _type_error(name: str, what: str, value: Any) -> TypeError:
    shown = _shown_value(value)
    of_type = "" if _is_estimator(value) else f" ({type(value).__name__})"
    return TypeError(f"{name} must be {what}, got {shown}{of_type}")


def _value_error(name: str, what: str, value: Any, advice: str = "") -> ValueError:
    return ValueError(
        f"{name} must be {what}, got {_shown_value(value)}{': ' + advice if advice else ''}"
    )


def refuse_estimator(value: Any, name: str, what: str, advice: str) -> None:
    """Raise a ``TypeError`` where ``value``, given for the parameter ``name`` (which
    must be ``what``), is an estimator: a transformer given in the place of another
    argument (``concept_profiles(W, splice)`` puts it in ``y``); ``advice`` says where
    it goes (``"concept_profiles takes it third, or as concepts="``). An estimator's
    class given so is refused too."""
    if _is_estimator(value):
        raise TypeError(f"`{name}` must be {what}, got {_shown_value(value)}: {advice}")
    if isinstance(value, type) and _is_estimator_class(value):
        raise TypeError(
            f"`{name}` must be {what}, got the class {value.__name__}, not a fitted "
            f"{value.__name__}: {advice}"
        )


def _or_none(what: str, allow_none: bool) -> str:
    return f"{what} or None" if allow_none else what


@dataclass(frozen=True)
class Integer:
    """An integer of at least ``low`` (a bool is not an integer).

    Parameters
    ----------
    low : int, default=1
        Smallest allowed value.
    allow_none : bool, default=False
        Whether None is allowed (it is returned unchanged).
    below : str, default=""
        Advice the message of a value below ``low`` ends with.
    """

    low: int = 1
    allow_none: bool = False
    below: str = ""

    def describe(self) -> str:
        """The rule in words, as messages show it."""
        if self.low == 1:
            what = "a positive integer"
        elif self.low == 0:
            what = "a non-negative integer"
        else:
            what = f"an integer >= {self.low}"
        return _or_none(what, self.allow_none)

    def check(self, value: Any, name: str) -> int | None:
        """Return ``value`` as an int, or raise naming ``name``."""
        if value is None and self.allow_none:
            return None
        if isinstance(value, bool | np.bool_):
            raise _type_error(name, self.describe(), value)
        from sklearn.utils import check_scalar

        try:
            check_scalar(value, name, numbers.Integral, min_val=self.low)
        except TypeError:
            raise _type_error(name, self.describe(), value) from None
        except ValueError:
            raise _value_error(name, self.describe(), value, self.below) from None
        return int(value)


@dataclass(frozen=True)
class Number:
    """A finite real number in an interval (a bool is not a number).

    Parameters
    ----------
    low, high : float or None, default=None
        Bounds of the interval; None leaves that side open.
    closed : {"left", "right", "both", "neither"}, default="both"
        Which bounds belong to the interval.
    allow_none : bool, default=False
        Whether None is allowed (it is returned unchanged).
    """

    low: float | None = None
    high: float | None = None
    closed: str = "both"
    allow_none: bool = False

    def describe(self) -> str:
        """The rule in words, as messages show it."""
        low_in = self.closed in ("left", "both")
        high_in = self.closed in ("right", "both")
        if self.high is None and self.low == 0:
            what = "a finite non-negative number" if low_in else "a positive finite number"
        elif self.high is None and self.low is None:
            what = "a finite number"
        elif self.high is None:
            what = f"a finite number {'>=' if low_in else '>'} {self.low:g}"
        elif self.low is None:
            what = f"a finite number {'<=' if high_in else '<'} {self.high:g}"
        else:
            left, right = "[" if low_in else "(", "]" if high_in else ")"
            what = f"a number in {left}{self.low:g}, {self.high:g}{right}"
        return _or_none(what, self.allow_none)

    def check(self, value: Any, name: str) -> float | None:
        """Return ``value`` as a float, or raise naming ``name``."""
        if value is None and self.allow_none:
            return None
        if isinstance(value, bool | np.bool_):
            raise _type_error(name, self.describe(), value)
        from sklearn.utils import check_scalar

        try:
            check_scalar(
                value,
                name,
                numbers.Real,
                min_val=self.low,
                max_val=self.high,
                include_boundaries=self.closed,
            )
        except TypeError:
            raise _type_error(name, self.describe(), value) from None
        except ValueError:
            raise _value_error(name, self.describe(), value) from None
        if not math.isfinite(float(value)):  # check_scalar lets NaN (and inf) through
            raise _value_error(name, self.describe(), value)
        return float(value)


@dataclass(frozen=True)
class Options:
    """One of a fixed set of strings.

    Parameters
    ----------
    options : tuple of str
        The allowed values.
    allow_none : bool, default=False
        Whether None is allowed (it is returned unchanged).
    meant : tuple of (str, str) pairs, default=()
        Values that are not allowed but tell what was meant, each with what
        the message then says to do (``("pandas", "for a DataFrame, ...")``).
    """

    options: tuple[str, ...]
    allow_none: bool = False
    #: Values that are no option but say what the user meant: value -> what to do.
    meant: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """The rule in words, as messages show it."""
        if len(self.options) == 2:
            what = f"{self.options[0]!r} or {self.options[1]!r}"
        else:
            what = f"one of {self.options}"
        return _or_none(what, self.allow_none)

    def check(self, value: Any, name: str) -> str | None:
        """Return ``value``, or raise naming ``name``."""
        if value is None and self.allow_none:
            return None
        if not isinstance(value, str):
            raise _type_error(name, self.describe(), value)
        if value not in self.options:
            from ._names import close_matches

            close = close_matches(value, self.options, n=1)
            error = _value_error(name, self.describe(), value)
            meant = dict(self.meant).get(value)
            if meant is not None:
                error = ValueError(f"{error}; {meant}")
            elif close:  # (as misspelt vocabularies and means are told)
                error = ValueError(f"{error}; did you mean {close[0]!r}?")
            raise error
        return value


@dataclass(frozen=True)
class Flag:
    """A bool (Python or NumPy); with ``int_ok`` also an integer level.

    Parameters
    ----------
    int_ok : bool, default=False
        Whether integers of at least 0 are allowed too (verbosity levels: 0 is
        quiet). A negative level is refused (ValueError), as scikit-learn
        refuses a negative ``verbose``: it would not be quiet, being true.
    """

    int_ok: bool = False

    def describe(self) -> str:
        """The rule in words, as messages show it."""
        return "a bool or an int" if self.int_ok else "a bool"

    def check(self, value: Any, name: str) -> Any:
        """Return ``value``, or raise a TypeError naming ``name``."""
        allowed: tuple[type, ...] = (bool, np.bool_)
        if self.int_ok:
            allowed += (numbers.Integral,)
        if not isinstance(value, allowed):
            raise _type_error(name, self.describe(), value)
        # (a value that passed and is not a bool is an integer)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"{name} must be 0 (quiet) or more, got {value!r}")
        return value


@dataclass(frozen=True)
class OrKeyword:
    """A keyword string, or a value that ``rule`` accepts.

    Parameters
    ----------
    keyword : str
        The string allowed besides the rule's values (returned unchanged).
    rule : Integer, Number, Options or Flag
        The rule of every other value.
    """

    keyword: str
    rule: Integer | Number | Options | Flag

    def describe(self) -> str:
        """The rule in words, as messages show it."""
        return f"{self.keyword!r} or {self.rule.describe()}"

    def check(self, value: Any, name: str) -> Any:
        """Return ``value`` (checked by the rule unless it is the keyword), or raise."""
        if isinstance(value, str) and value == self.keyword:
            return value
        try:
            return self.rule.check(value, name)
        except TypeError:
            raise _type_error(name, self.describe(), value) from None
        except ValueError:
            below = getattr(self.rule, "below", "")
            raise _value_error(name, self.describe(), value, below) from None


Rule = Integer | Number | Options | Flag | OrKeyword

#: ``vocabulary_size`` of a SpliceTransformer and ``size`` of ``load_vocabulary``: the
#: authors' loader takes -1, its default, for every line, which is None here.
VOCABULARY_SIZE = OrKeyword(
    "auto",
    Integer(
        allow_none=True,
        below="None keeps every concept (what vocabulary_size=-1 does in the authors' splice.load)",
    ),
)


@overload
def check_int(
    value: Any, name: str, *, low: int = 1, allow_none: Literal[False] = False
) -> int: ...
@overload
def check_int(value: Any, name: str, *, low: int = 1, allow_none: bool) -> int | None: ...
def check_int(value: Any, name: str, *, low: int = 1, allow_none: bool = False) -> int | None:
    """Check an integer parameter of at least ``low``; see :class:`Integer`."""
    return Integer(low, allow_none).check(value, name)


@overload
def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    allow_none: Literal[False] = False,
) -> float: ...
@overload
def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    allow_none: bool,
) -> float | None: ...
def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    allow_none: bool = False,
) -> float | None:
    """Check a finite real parameter in an interval; see :class:`Number`."""
    return Number(low, high, closed, allow_none).check(value, name)


@overload
def check_option(
    value: Any, name: str, options: Sequence[str], *, allow_none: Literal[False] = False
) -> str: ...
@overload
def check_option(
    value: Any, name: str, options: Sequence[str], *, allow_none: bool
) -> str | None: ...
def check_option(
    value: Any, name: str, options: Sequence[str], *, allow_none: bool = False
) -> str | None:
    """Check a string option; see :class:`Options`."""
    return Options(tuple(options), allow_none).check(value, name)


def check_flag(value: Any, name: str, *, int_ok: bool = False) -> Any:
    """Check a bool parameter; see :class:`Flag`."""
    return Flag(int_ok).check(value, name)


@contextlib.contextmanager
def parameters_of(owner: Any) -> Iterator[None]:
    """Within the block, a :class:`TypeError` or :class:`ValueError` (those classes, not
    their subclasses, which say more) is raised as an
    :class:`~sksplice.exceptions.InvalidParameterError` whose message starts with the
    class of ``owner``: the block checks the parameters of that estimator (a ``verbose``
    of which step of a Pipeline). One raised so already (the parameters of an estimator
    ``owner`` holds, checked by it) goes on as it is.
    """
    try:
        yield
    except (TypeError, ValueError) as exc:
        if type(exc) not in (TypeError, ValueError):
            raise
        owner_name = type(owner).__name__
        message = str(exc)
        if not message.startswith(owner_name):
            message = f"{owner_name}: {message}"
        raise InvalidParameterError(message).with_traceback(exc.__traceback__) from None


_Method = TypeVar("_Method", bound=Callable[..., Any])


def checks_parameters(method: _Method) -> _Method:
    """Decorate a method that checks its estimator's parameters: see :func:`parameters_of`."""

    @functools.wraps(method)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with parameters_of(self):
            return method(self, *args, **kwargs)

    return cast("_Method", checked)


def validate_params(owner: Any, rules: Mapping[str, Rule]) -> None:
    """Check every parameter of ``owner`` named in ``rules`` (name -> rule).

    Parameters
    ----------
    owner : object
        Holds the parameters as attributes (an estimator).
    rules : mapping of str to rule
        Typically the class attribute ``_param_rules``.

    Raises
    ------
    TypeError
        For a parameter of the wrong type.
    ValueError
        For a parameter of the right type whose value is not allowed.
    """
    for name, rule in rules.items():
        rule.check(getattr(owner, name), name)


def find_label(label: Any, classes: Any) -> Any | None:
    """The one of ``classes`` equal to ``label``, or None.

    Numbers of any type match (``np.int64(1)`` is the class ``1``), and so do
    ``np.str_`` and ``str``; a bool and a number do not, although ``True == 1`` in
    Python: ``True`` is not the class ``1``, nor ``1`` the class ``True`` (it would
    select that class and be shown as the other in every heading).
    """
    is_bool = isinstance(label, bool | np.bool_)
    for cls in classes:
        if isinstance(cls, bool | np.bool_) != is_bool:
            continue
        try:
            if bool(cls == label):
                return cls
        except (TypeError, ValueError):  # (an array, or a value with no truth)
            continue
    return None


def alike_labels(labels: Any) -> list[list[str]]:
    """The groups of text labels equal but for case or spaces (``"Temple"``,
    ``"temple"``, ``"temple  "``): different classes to every count, one class to the
    person who typed them, perhaps."""
    groups: dict[str, list[str]] = {}
    for label in dict.fromkeys(np.asarray(labels, dtype=object).ravel().tolist()):
        if isinstance(label, str):
            groups.setdefault(" ".join(label.split()).casefold(), []).append(label)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def shown_groups(groups: Sequence[Sequence[str]], short: Any = repr, sep: str = " = ") -> str:
    """Groups of names alike as a message shows them: at most five groups of at most five
    names each (``'a' = 'à'; 'e' = 'è' = 'é'``), then how many more there are (a tokenizer
    that reads a thousand names as one unknown token makes a group of a thousand)."""

    def one(group: Sequence[str]) -> str:
        names = sep.join(short(name) for name in group[:5])
        return names + (f"{sep}... ({len(group) - 5} more)" if len(group) > 5 else "")

    more = f"; and {len(groups) - 5} more groups" if len(groups) > 5 else ""
    return "; ".join(one(group) for group in groups[:5]) + more


def alike_labels_message(groups: list[list[str]], fix: str) -> str:
    """The warning about :func:`alike_labels` ``groups``, with how to merge them (``fix``)."""
    return (
        f"labels that differ only in case or spaces are counted as different classes: "
        f"{shown_groups(groups, sep=' and ')}; if they name one class, give them one label "
        f"({fix})"
    )


def check_labels(y: Any, name: str = "y") -> np.ndarray:
    """Labels as a 1-D-or-more array, with missing labels refused by row.

    A list or tuple that mixes strings with other values (``["cat", nan]``,
    ``[1, "dog"]``) becomes an object array: ``np.asarray`` would turn every
    value into a string, making a missing label the class ``"nan"`` and the
    label ``1`` the string ``"1"``. Arrays and pandas objects keep their dtype.
    Raises ``ValueError`` naming the first rows whose label is None or NaN,
    and ``TypeError`` for labels of several types that do not order (sorting
    them, as every per-class table does, would fail later).
    """
    if hasattr(y, "to_numpy") and not isinstance(y, np.ndarray):
        y = y.to_numpy()
    if isinstance(y, np.ndarray):
        arr = y
    else:
        arr = np.asarray(y)
        if arr.dtype.kind in "US" and arr.ndim == 1:
            items = list(y)
            if not all(isinstance(v, (str, bytes)) for v in items):
                arr = np.empty(len(items), dtype=object)
                arr[:] = items
    if arr.ndim == 0 or arr.size == 0:
        return arr  # (the caller's shape checks say what is wrong)
    if arr.dtype.kind == "f" or arr.dtype == object:
        import pandas as pd  # (pd.isna: None, NaN, pd.NA, NaT)

        missing = np.flatnonzero(np.asarray(pd.isna(arr)).reshape(arr.shape[0], -1).any(axis=1))
    else:
        missing = np.empty(0, dtype=np.intp)
    if missing.size:
        from ._names import listed

        raise ValueError(
            f"labels `{name}` are missing (None or NaN) at row(s) "
            f"{listed(missing, _SHOWN_ROWS)}: give every "
            f"sample a label, or leave those rows out of both the data and `{name}`"
        )
    kinds = {type(v) for v in arr.ravel().tolist()} if arr.dtype == object else set()
    if len(kinds) > 1:  # (labels of one type order; of several, perhaps not)
        try:
            np.unique(arr)
        except TypeError:
            named = ", ".join(sorted(k.__name__ for k in kinds))
            raise TypeError(
                f"labels `{name}` mix types that cannot be ordered ({named}): give "
                f"labels of one type, e.g. {name}.astype(str)"
            ) from None
    return arr


def _n_items(obj: Any) -> int | None:
    """The number of items (rows) of ``obj``, or None where it has none to count."""
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple):
        if not shape or not isinstance(shape[0], numbers.Integral):
            return None  # (a 0-d array; a dask array's unknown length, NaN)
        return int(shape[0])
    if isinstance(obj, str | bytes) or not hasattr(obj, "__len__"):
        return None
    try:
        return len(obj)
    except TypeError:
        return None


def check_y_length(
    X: Any, y: Any, rows: str = "rows", *, name: str = "y", step: bool = True
) -> None:
    """Refuse, in ``fit``, a ``y`` of another length than ``X`` (``rows``: what X's items
    are, ``"inputs"`` or ``"rows"``; ``name``: the argument's, ``"y"`` or ``"groups"``;
    ``step``: the caller is a step of a Pipeline, said in the message).

    A Pipeline gives the ``y`` of its final estimator to every step: the step that
    reads it would find the mismatch only once this one had done its work (embedded
    every image, or the vocabulary). Nothing is checked where either has no length
    to count (a generator, a single path). (scikit-learn's own check says "Found input
    variables with inconsistent numbers of samples: [120, 10]", naming neither.)
    """
    if y is None or X is None:
        return
    n_x, n_y = _n_items(X), _n_items(y)
    if n_x is None or n_y is None or n_x == n_y:
        return
    what = "label" if name == "y" else "group"
    raise ValueError(
        f"{name} has {n_y} {what}s for the {n_x} {rows} of X: give one {what} per "
        f"{rows[:-1]}, in their order"
        + (" (a Pipeline gives y to every step, which checks it before its work)" if step else "")
    )


def check_label_index(X: Any, y: Any, x_name: str = "W", y_name: str = "y") -> None:
    """Refuse labels ``y`` (a pandas Series) indexed otherwise than the rows of ``X`` (a
    DataFrame): labels go to rows by position, so a Series in another order, or indexed
    by other labels, would give each row the label of another sample, silently.

    Nothing is checked unless ``y`` is a Series. The rows of an ``X`` that is no
    DataFrame (an array, a sparse matrix) carry no names: they are taken as those of
    the default index ``0 .. n-1``, as the output of a transformer of arrays has. Where
    ``X`` has that index and ``y``'s index does not hold those positions (the labels
    of rows kept by ``train_test_split`` of an array and a Series), the labels can
    only be meant by position and nothing is refused; a ``y`` indexed by those
    positions in another order (labels shuffled alone, or together with the data: only
    the caller knows) is refused beside a DataFrame, and warned about (``UserWarning``)
    beside weights without an index, where a frame sampled or sorted together with the
    data is the common case. Call it once the lengths are known to be equal. Raises
    ``ValueError`` naming the first position where the two indexes differ and saying
    how to align the labels (``y.loc[X.index]``) or to use them by position (first, for
    an ``X`` of the default index: labels shuffled together with an array of the data
    hold its positions in another order, and aligning them would mislabel every row).
    """
    pd = sys.modules.get("pandas")  # (not imported: y is no pandas object)
    if pd is None or not isinstance(y, pd.Series):
        return
    framed = isinstance(X, pd.DataFrame)
    rows = X.index if framed else pd.RangeIndex(len(y))
    labels = y.index
    if len(rows) != len(labels) or rows.equals(labels):
        return
    a = np.asarray(rows, dtype=object)
    b = np.asarray(labels, dtype=object)
    differ = np.asarray(a != b, dtype=bool) & ~(np.asarray(pd.isna(a)) & np.asarray(pd.isna(b)))
    if not differ.any():  # (the same labels, of other dtypes: 1 and 1.0)
        return
    at = int(np.flatnonzero(differ)[0])
    default = isinstance(rows, pd.RangeIndex) and rows.start == 0 and rows.step == 1
    alignable = labels.is_unique and rows.isin(labels).all()
    if default and not alignable:
        # X's rows carry no names (its index is only their positions, as for the output
        # of an array): y indexed by other labels, e.g. the rows kept by
        # train_test_split(embeddings, df.label), can only be meant by position.
        return
    if not framed:
        # Weights without an index (CSR, an array) beside labels indexed by their
        # positions in another order: most often a frame sampled or sorted together
        # with the data (rows and labels in one order), sometimes labels shuffled alone.
        # Refusing would break the first, which pandas output refuses since its index
        # says which; said, not refused.
        from ._stack import warn_user

        warn_user(
            f"labels `{y_name}` are matched to the rows of {x_name} by position, but "
            f"{y_name}.index holds their positions in another order (at position {at}: "
            f"{b[at]!r}): if {y_name} was sampled, sorted or split together with the data, "
            f"this is right (pass {y_name}.to_numpy() to say so); if {y_name} alone was "
            f"reordered, {y_name}.sort_index() puts it back",
            UserWarning,
        )
        return
    by_position = f"{y_name}.reset_index(drop=True)" if default else f"{y_name}.to_numpy()"
    risk = "they would go to other samples"
    if alignable and default:
        risk = "they may go to other samples"
        # (the labels name positions of X's rows in another order: they were shuffled or
        # split together with an array of the data, rows still matched by position, or
        # shuffled alone, which aligning puts back; only the caller knows which)
        fix = (
            f"{x_name}'s rows carry no names (its index is 0 .. n-1, as for the output of "
            f"an array), so if {y_name} was shuffled or split together with the data "
            f"(sklearn.utils.shuffle, train_test_split), its labels are in the order of the "
            f"rows: pass {by_position}; only if {y_name}'s index numbers the rows of "
            f"{x_name} in their own order, align them with {y_name}.loc[{x_name}.index]"
        )
    elif alignable:
        fix = (
            f"align them with {y_name}.loc[{x_name}.index], or pass {by_position} if the "
            f"labels are in the order of the rows of {x_name}"
        )
    else:
        fix = (
            f"{y_name}'s index does not hold each row label of {x_name} once, so the labels "
            f"cannot be aligned by index: pass {by_position} if they are in the order of the "
            f"rows of {x_name}"
        )
    raise ValueError(
        f"labels `{y_name}` are indexed differently from the rows of {x_name}: at position "
        f"{at}, {y_name}.index holds {b[at]!r} and {x_name}.index {a[at]!r}. Labels are "
        f"matched to rows by position, so {risk}; {fix}"
    )


#: Entries of an array that :func:`check_finite_rows` looks at together.
_FINITE_CHECK_ITEMS = 1 << 22


#: What ``check_finite_rows`` adds for embeddings whose refused rows are all NaN.
SKIPPED_ROWS_HINT = (
    "rows that are NaN throughout are what CLIPEmbedder(on_error='skip') gives for inputs "
    "it could not read (its SkippedInputWarning names them); drop them together with their "
    "labels before this step: keep = ~np.isnan(X).any(axis=1); X, y = X[keep], y[keep]"
)


def refuse_zero_rows(
    U: np.ndarray,
    what: str,
    labels: Sequence[Any] | None = None,
    *,
    why: str = "which has no direction to remove",
) -> None:
    """Refuse a zero row of ``U`` (it has no direction), named by ``what`` (a format
    string given its row, or its label's repr) and said ``why`` it cannot be used."""
    zero = np.flatnonzero(~U.any(axis=1))
    if zero.size:
        i = int(zero[0])
        raise ValueError(
            f"{what.format(i if labels is None else repr(labels[i]))} is the zero vector, {why}"
        )


def check_finite_rows(
    X: Any,
    name: str,
    labels: Sequence[Any] | None = None,
    *,
    first_row: int = 0,
    block_index: int | None = None,
    nan_rows_hint: str | None = None,
    hint: str | None = None,
) -> None:
    """Refuse a 2-D array whose rows hold NaN or infinite values, naming the rows.

    Parameters
    ----------
    X : ndarray, scipy sparse matrix or torch.Tensor of shape (n_rows, n_columns)
        The array; a sparse matrix is checked on its stored values, a tensor
        where it lies.
    name : str
        What ``X`` is, as the message names it.
    labels : sequence, optional
        A name per row (e.g. the concepts, or a DataFrame's index as
        :func:`row_labels` gives it); the message then shows
        ``'name' (row i)`` instead of ``i``.
    first_row : int, default=0
        The number of ``X``'s first row where ``X`` is a block of a larger
        array (a Dask block): rows are named in the larger array.
    block_index : int, optional
        The index of the block ``X`` is, where its place in the larger array is
        unknown (a Dask array of unknown chunk sizes): rows are then named
        within the block (``"row 3 of block 2"``) and ``first_row`` is ignored.
    nan_rows_hint : str, optional
        Said after the message when every refused row is NaN throughout (for
        embeddings: the rows ``on_error="skip"`` gives for unreadable inputs).
    hint : str, optional
        Said after the message otherwise (what to do).

    Raises
    ------
    ValueError
        ``"<name> holds NaN or infinite values in <k> row(s): <rows>"``, with
        at most five rows shown (and ``nan_rows_hint`` where it applies).
    """
    if type(X).__module__.startswith("torch"):
        import torch

        if bool(torch.isfinite(X).all()):
            return
        bad = (~torch.isfinite(X)).reshape(X.shape[0], -1).any(dim=1)
        rows = bad.nonzero().flatten().cpu().numpy()
    else:
        X, rows = _rows_where(X, lambda values: ~np.isfinite(values))
        if not rows.size:
            return
    said = f"; {hint}" if hint else ""
    if nan_rows_hint and _all_nan(X, np.asarray(rows)):
        said = f": {nan_rows_hint}"
    if block_index is not None:
        first_row = 0
    rows = np.asarray(rows) + first_row
    shown = shown_rows(rows, labels, first_row=first_row, block_index=block_index)
    raise ValueError(
        f"{name} {_agreeing('holds', name)} NaN or infinite values in {rows.size} row(s): "
        f"{shown}{said}"
    )


def _agreeing(verb: str, subject: str) -> str:
    """``verb`` (third person singular: ``"holds"``) agreeing with ``subject``, a name
    (``"X"``, ``"weights"``) or a phrase (``"concept embeddings"``, ``"the output of
    F.embed_text for the prompts"``): plural where its head noun ends in s."""
    words = subject.split()
    if words and words[0] in ("the", "its", "their"):
        words = words[1:]
    cut = next((i for i, w in enumerate(words) if w in ("of", "by", "for", "in")), len(words))
    head = words[cut - 1] if cut else subject
    return verb.removesuffix("s") if head.endswith("s") and len(head) > 1 else verb


def _rows_where(X: Any, bad: Callable[[np.ndarray], np.ndarray]) -> tuple[Any, np.ndarray]:
    """``X`` as checked (CSR, or an ndarray of 2 dimensions or more) and its rows that
    hold a value ``bad`` marks (increasing); a sparse matrix is checked on its stored
    values, an array a block of rows at a time (no mask the size of ``X``)."""
    if _sparse(X):
        import scipy.sparse

        X = scipy.sparse.csr_matrix(X)
        entries = np.flatnonzero(bad(X.data))
        return X, np.unique(np.searchsorted(X.indptr, entries, side="right") - 1)
    X = np.asarray(X)
    if X.ndim == 0:
        X = X.reshape(1, 1)
    n = X.shape[0]
    block = max(1, _FINITE_CHECK_ITEMS // max(1, X.size // max(1, n)))
    found = [np.empty(0, dtype=np.intp)]
    for start in range(0, n, block):
        marked = bad(X[start : start + block])
        if marked.any():
            found.append(np.flatnonzero(marked.reshape(marked.shape[0], -1).any(axis=1)) + start)
    return X, np.concatenate(found)


def negative_rows(W: Any) -> np.ndarray:
    """The rows of ``W`` (an array or a sparse matrix) holding a negative value."""
    return _rows_where(W, lambda values: values < 0)[1]


def check_non_negative_rows(
    W: Any, name: str, labels: Sequence[Any] | None = None, *, hint: str = "", first_row: int = 0
) -> None:
    """Refuse concept weights of which some are negative, naming the rows.

    Parameters
    ----------
    W : ndarray or scipy sparse matrix of shape (n_rows, n_concepts)
        The weights (checked finite already); a sparse matrix is checked on its
        stored values.
    name : str
        What ``W`` is, as the message names it.
    labels : sequence, optional
        A name per row, as for :func:`check_finite_rows`.
    hint : str, default=""
        What to do, said after the rows.
    first_row : int, default=0
        The number of ``W``'s first row where ``W`` is a block of a larger array
        (a Dask block): rows are named in the larger array.

    Raises
    ------
    ValueError
        ``"Negative values in data: <name> must be non-negative (SpLiCE weights
        are); <k> row(s) hold negative values: <rows>"``, then ``hint``.
    """
    rows = negative_rows(W) + first_row
    if not rows.size:
        return
    shown = shown_rows(rows, labels, first_row=first_row)
    raise ValueError(
        f"Negative values in data: {name} must be non-negative (SpLiCE weights are); "
        f"{rows.size} row(s) hold negative values: {shown}" + (f". {hint}" if hint else "")
    )


def shown_rows(
    rows: np.ndarray, labels: Any = None, *, first_row: int = 0, block_index: int | None = None
) -> str:
    """The first rows of ``rows`` as messages list them (``3, 7``; ``'cap7' (row 7)`` where
    ``labels`` name them, ``labels[r - first_row]``; ``row 3 of block 2``), then how many
    more there are."""
    from ._names import listed

    def one(r: Any) -> str:
        if labels is not None:
            return f"{shown_label(labels[int(r) - first_row])} (row {int(r)})"
        return f"row {int(r)} of block {block_index}" if block_index is not None else str(int(r))

    return listed(rows, _SHOWN_ROWS, one)


def _all_nan(X: Any, rows: np.ndarray) -> bool:
    """Whether the ``rows`` of ``X`` (a dense array or a tensor) are NaN throughout."""
    if _sparse(X):
        return False
    if type(X).__module__.startswith("torch"):
        import torch

        index = torch.as_tensor(rows, dtype=torch.long, device=X.device)
        return bool(torch.isnan(X[index]).all())
    # (a block of rows at a time: no copy the size of X)
    return all(
        bool(np.isnan(X[rows[start : start + 1024]]).all()) for start in range(0, rows.size, 1024)
    )


def _column_dtypes(X: Any) -> list[Any] | None:
    """The NumPy dtype of the values of each column of a pandas or polars DataFrame
    ``X`` (None for a polars column that is not a float), or None when ``X`` is not
    a DataFrame. A pandas extension dtype (nullable ``Float32``, ``float32[pyarrow]``)
    tells the NumPy dtype of its values."""
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(X, polars.DataFrame):
        kinds = {
            getattr(polars, name): np.dtype(name.lower())
            for name in ("Float16", "Float32", "Float64")
            if hasattr(polars, name)
        }
        return [kinds.get(dtype) for dtype in X.schema.values()]
    if hasattr(X, "dtypes") and hasattr(X, "columns") and hasattr(X.dtypes, "tolist"):
        return [getattr(t, "numpy_dtype", t) for t in X.dtypes.tolist()]
    return None


def all_float16(X: Any) -> bool:
    """Whether ``X`` holds float16 values only: an array, or a DataFrame whose every
    column is float16 (solved in float32, as float16 arrays are)."""
    columns = _column_dtypes(X)
    if columns is not None:
        return len(columns) > 0 and all(dtype == np.float16 for dtype in columns)
    return getattr(X, "dtype", None) == np.float16


def tensor_as_array(X: Any) -> Any:
    """A torch tensor as the NumPy array of its values; anything else as it is.

    The tensor is detached from autograd and copied to the CPU where it lies
    elsewhere; float32, float16 and float64 keep their dtype, bfloat16 (which
    NumPy lacks) becomes float32. ``model.encode_image(...)`` output can so be
    given where embeddings are expected, and keeps its precision as an array does.
    Torch is not imported for this: a tensor exists only once it is.

    Parameters
    ----------
    X : object
        Data as given (a tensor is converted; anything else is returned).

    Returns
    -------
    object
        ``X``, or the array of a tensor.
    """
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(X, torch.Tensor):
        return X
    t = X.detach()
    if t.layout != torch.strided:  # (a sparse tensor: its values, as a dense array)
        t = t.to_dense()
    if t.dtype == torch.bfloat16:
        t = t.to(torch.float32)
    return t.cpu().resolve_conj().resolve_neg().numpy()


def float_dtypes(X: Any) -> list[type]:
    """The float dtypes ``validate_data(dtype=...)`` may keep for ``X``, the preferred first.

    float64 and float32, float32 first for a DataFrame whose columns are all float32
    (or float16) of another kind than NumPy's: polars ``Float32``, pandas' nullable
    ``Float32`` or ``float32[pyarrow]``, and for a list of rows that are all float32 (or
    float16) arrays or tensors. scikit-learn keeps the dtype of a NumPy array
    and of NumPy columns of a pandas DataFrame, but converts those frames to the first
    dtype listed, so float32 embeddings given so would become float64 (twice the
    memory, and weights of another dtype than the same embeddings given as an array).

    Parameters
    ----------
    X : object
        The input about to be validated.

    Returns
    -------
    list of type
        ``[np.float64, np.float32]`` or ``[np.float32, np.float64]``.
    """
    columns = _column_dtypes(X)
    if columns and all(dtype in (np.float32, np.float16) for dtype in columns):
        return [np.float32, np.float64]
    if isinstance(X, list | tuple) and X:
        # rows as a list of float32 arrays or tensors ([model.encode(t) for t in texts]):
        # a list has no dtype, and scikit-learn converts it to the first dtype listed
        # (every row looked at: one float64 row among them keeps float64)
        narrow = ("float32", "float16")
        if all(str(getattr(row, "dtype", "")).removeprefix("torch.") in narrow for row in X):
            return [np.float32, np.float64]
    return [np.float64, np.float32]


def _holds_sequences(dtype: Any) -> bool:
    """Whether a pandas column of ``dtype`` can hold a sequence in a cell: objects, or
    an Arrow list (``list<item: double>[pyarrow]``, large or of fixed size)."""
    if dtype == np.dtype(object):
        return True
    arrow = getattr(dtype, "pyarrow_dtype", None)
    types = sys.modules.get("pyarrow.types")
    return (
        arrow is not None
        and types is not None
        and (types.is_list(arrow) or types.is_large_list(arrow) or types.is_fixed_size_list(arrow))
    )


def _first_row(X: Any) -> tuple[list[Any], list[Any] | None, bool] | None:
    """The values of the first row of ``X``, its column names and whether it is a Series.

    Only for containers that can hold a vector in a cell: a pandas or polars
    DataFrame or Series, a NumPy array of objects (whose columns are unnamed,
    None). None for anything else, and for an empty ``X``.
    """
    polars = sys.modules.get("polars")
    pandas = sys.modules.get("pandas")
    try:
        if pandas is not None and isinstance(X, pandas.Series):
            return ([X.iloc[0]], [X.name], True) if len(X) else None
        if pandas is not None and isinstance(X, pandas.DataFrame):
            # (only columns of objects or of Arrow lists, as a Parquet file read with
            # dtype_backend="pyarrow" gives, can hold a vector: numbers are not read)
            held = [j for j, t in enumerate(X.dtypes.tolist()) if _holds_sequences(t)]
            if not held or not len(X):
                return None
            first = X.iloc[0, held]
            return list(first), list(X.columns[held]), False
        if polars is not None and isinstance(X, polars.Series):
            return ([X[0]], [X.name], True) if len(X) else None
        if polars is not None and isinstance(X, polars.DataFrame):
            held = [c for c, t in X.schema.items() if isinstance(t, polars.List | polars.Array)]
            return (list(X[held].row(0)), held, False) if held and X.height else None
        if isinstance(X, np.ndarray) and X.dtype == object and X.size and X.ndim <= 2:
            return ([X[0]] if X.ndim == 1 else list(X[0]), None, False)
    except (IndexError, KeyError, TypeError, ValueError):  # (nothing cheap to look at)
        return None
    return None


def vectors_in_cells(X: Any) -> str | None:
    """What is wrong with an ``X`` that holds one embedding per cell, else None.

    A DataFrame with a column of embeddings (each cell a list or array of numbers,
    as read from a Parquet file, or selected by name in a ``ColumnTransformer``)
    gave NumPy's "setting an array element with a sequence". The message says
    where the vectors are and how to give them as an ``(n_samples, d)`` array.
    """
    first = _first_row(X)
    if first is None:
        return None
    values, columns, series = first
    for j, value in enumerate(values):
        if isinstance(value, str | bytes) or np.ndim(value) != 1:
            continue
        try:  # (a polars list cell is a Series, a pandas one a list or an array)
            size = len(value)
        except TypeError:
            continue
        if series:
            where = "X" if columns is None or columns[j] is None else f"X (column {columns[j]!r})"
            stack = "np.stack(X.to_numpy())"
        elif columns is not None:
            where = f"column {columns[j]!r} of X"
            stack = f"np.stack(X[{columns[j]!r}].to_numpy())"
        else:
            where, stack = "X", "np.stack(X.ravel())"
        return (
            f"{where} holds an embedding in each cell (the first has {size} values), not one "
            f"number per cell: give the embeddings as an array of shape (n_samples, d), "
            f"{stack}; in a ColumnTransformer, keep them as d columns of numbers "
            "(pd.DataFrame(np.stack(...), index=df.index)) and select those"
        )
    return None


#: The words of NumPy and scikit-learn for a list of rows that is no array of numbers.
_NOT_AN_ARRAY = ("inhomogeneous", "setting an array element", "could not convert", "scalar array")


def rows_not_an_array(X: Any, name: str = "X") -> str | None:
    """What keeps the list (or tuple) of rows ``X`` from being an array of numbers, by its
    row: NumPy says "setting an array element with a sequence. The requested array has
    an inhomogeneous shape after 1 dimensions" of rows of two lengths, and scikit-learn
    "Expected 2D array, got scalar array instead: array=nan" of ``None``. None where
    ``X`` is no list of rows, or nothing is found. (A ``None`` among the numbers of a
    row is NaN to NumPy, and said as a NaN is.)"""
    if X is None:
        return f"{name} is None: give the rows as an array of shape (n_samples, n_features)"
    if not isinstance(X, list | tuple):
        return None

    def dims(row: Any) -> int | None:
        try:
            return int(np.ndim(row))
        except ValueError:  # (cells of several lengths: NumPy's own words)
            return None

    shapes = [None if row is None or isinstance(row, str | bytes) else dims(row) for row in X]
    rows_of_values = any(ndim is not None and ndim >= 1 for ndim in shapes)
    width = None
    for i, (row, ndim) in enumerate(zip(X, shapes, strict=True)):
        if row is None:
            return (
                f"{name}: row {i} is None, not a row of numbers: leave it out (its place in "
                "the other arrays with it), or give a row of NaN"
            )
        if isinstance(row, str | bytes):
            continue  # (texts: said as scikit-learn says it)
        if ndim is None or (ndim > 1 and isinstance(row, list | tuple)):
            return f"{name}: row {i} holds sequences in its cells, not one number in each"
        if ndim == 0:
            if rows_of_values:  # (a number among rows; a list of numbers is 1-D X)
                return f"{name}: row {i} is {row!r}, not a row of numbers"
            continue
        if ndim != 1:
            continue
        n = len(row)
        if width is None:
            width = n
        elif n != width:
            return (
                f"{name}: row {i} has {n} values where row 0 has {width}: every row holds "
                "the same number of values (one embedding, or the weights of every concept)"
            )
        for j, value in enumerate(row):
            if isinstance(value, str | bytes):
                try:
                    float(value)
                except ValueError:
                    return f"{name}: row {i}, column {j} holds {value!r}, not a number"
    return None


def validated(estimator: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
    """:func:`sklearn.utils.validation.validate_data`, whose errors of a list of rows
    that is no array of numbers (rows of two lengths, a ``None`` row, a text among the
    numbers) name the row (:func:`rows_not_an_array`), and of ``X=None`` say so; its
    other errors (a width other than the fitted one) are scikit-learn's."""
    from sklearn.utils.validation import validate_data

    if X is None:
        raise ValueError(rows_not_an_array(X))
    try:
        return validate_data(estimator, X, *args, **kwargs)
    except ValueError as exc:
        said = str(exc)
        why = rows_not_an_array(X) if any(w in said for w in _NOT_AN_ARRAY) else None
        if why is None:
            raise
        raise ValueError(why) from exc


def shown_label(label: Any) -> str:
    """``repr`` of a row's label, a NumPy scalar as the Python one (``7``, not
    ``np.int64(7)``), also within a tuple (a row of a MultiIndex: ``('dog', 0)``)."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(plain(v) for v in value)
        return value.item() if isinstance(value, np.generic) else value

    return repr(plain(label))


def row_labels(X: Any) -> Any | None:
    """The index of a pandas DataFrame ``X`` where it names the rows, for messages.

    None for anything else, and for the default index (``0, 1, ...``: the
    positions, which the messages show anyway). Pass it as ``labels`` to
    :func:`check_finite_rows` (before converting ``X`` to an array) so that a
    row is shown as ``'cap7' (row 7)``.
    """
    pd = sys.modules.get("pandas")  # (if pandas is not imported, X is no DataFrame)
    if pd is None or not isinstance(X, pd.DataFrame):
        return None
    index = X.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return None
    return index


def check_input_features(est: Any, input_features: Any) -> np.ndarray | None:
    """``input_features`` of ``get_feature_names_out`` checked against the fitted input.

    Returns None when it is None, else the names as an object array, after
    checking their number against ``n_features_in_`` and, when the estimator
    saw column names in ``fit``, that they are those names.
    """
    if input_features is None:
        return None
    names = np.asarray(input_features, dtype=object)
    if names.shape != (est.n_features_in_,):
        from ._names import plural

        got = plural(len(names), "name") if names.ndim == 1 else f"an array of shape {names.shape}"
        raise ValueError(
            f"input_features should have length {est.n_features_in_} (one name per input "
            f"feature), got {got}"
        )
    names_in = getattr(est, "feature_names_in_", None)
    if names_in is not None and not np.array_equal(names, names_in):
        raise ValueError("input_features is not equal to feature_names_in_")
    return names


def _sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy sparse matrix or array (scipy is loaded if it is one)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and bool(sparse.issparse(X))


@contextlib.contextmanager
def restored_on_failure(estimator: Any) -> Iterator[None]:
    """Put back the attributes of ``estimator`` when the block (its ``fit``) raises.

    A fit sets its attributes one after the other, with slow work between them (a
    model run, a calibration): one that fails or is interrupted (``KeyboardInterrupt``)
    midway left some of the new attributes beside old ones (a new dictionary with a
    penalty calibrated for the old one), or, on a first fit, ``n_features_in_``
    alone, so that the estimator counted as fitted and raised ``AttributeError``.
    With this block the estimator is as it was: fitted as before, or not fitted.
    """
    before = dict(estimator.__dict__)
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(before)
        raise
