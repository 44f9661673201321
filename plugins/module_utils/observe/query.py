# -*- coding: utf-8 -*-
# Copyright: meshfed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A JMESPath query over a module's result, so that a job picks what matters (the links that are down, say)
without a template."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
    HAS_JMESPATH = True
except ImportError:
    HAS_JMESPATH = False


class QueryError(Exception):
    """A query that does not parse or cannot be evaluated on the data, with JMESPath's reason."""


def run_query(expression, data):
    """What the JMESPath ``expression`` selects in ``data`` (None when nothing matches)."""
    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as error:
        raise QueryError("query %r is not a valid JMESPath expression: %s" % (expression, error))
    try:
        return compiled.search(data)
    except JMESPathError as error:
        raise QueryError("query %r failed on the result: %s" % (expression, error))
