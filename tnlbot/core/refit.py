"""Does a stored answer still fit a question, after the question changed?

`same_shape`: the value has the shape the question's kind stores (a yes/no is
a boolean, an integer an int, a file a mapping, a multiple choice a list...),
so it may be carried over and shown. `still_valid`: the question as it is now
would accept the value (choices, lengths, bounds, formats), checked by the
same parsers as a typed answer.
"""
from __future__ import annotations

from .answers import check_file, check_selection
from .problem import Problem
from .events import FileRef
from .flow import JSON, Question
from .kinds import KINDS, Form, parse, shape_of


def same_shape(q: Question, value: JSON) -> bool:
    wanted = shape_of(q.kind)
    if wanted is None or value is None:
        return False
    if wanted is int and isinstance(value, bool):
        return False
    return isinstance(value, wanted)


def still_valid(q: Question, value: JSON) -> bool:
    """Would the question, as it is now, accept this stored answer?"""
    if not same_shape(q, value):
        return False
    form = KINDS[q.kind].form
    if form is Form.YES_NO or form is Form.NOTHING:    # a boolean; a repeat block's item count
        return True
    if form is Form.ONE:
        return value in q.choices
    if form is Form.SEVERAL:
        assert isinstance(value, list)
        return not isinstance(check_selection([str(v) for v in value], q), Problem)
    if form is Form.FILE:
        assert isinstance(value, dict)
        try:
            ref = FileRef(str(value["name"]), str(value["mime"]), int(value["size"]), str(value["ref"]))
        except (KeyError, TypeError, ValueError):
            return False
        return not isinstance(check_file(ref, q), Problem)
    return not isinstance(parse(str(value), q, {}), Problem)
