"""The customer cube: count, list, export and group customers by any combination of dimensions.

Three units: the cube table (:mod:`crmine.cube._table`: built from the warehouse,
materialised, kept fresh), the filters (:mod:`crmine.cube._filters`: parsed, validated, bound
as parameters) and the query (:mod:`crmine.cube._query`: counts, groups, pages, exports).

Examples
--------
>>> from crmine.cube import query                                             # doctest: +SKIP
>>> query(ws, where=["gender=F", "city=Shanghai"], by="region").groups         # doctest: +SKIP
>>> query("my_workspace", where=["value_tier=A"]).count                        # doctest: +SKIP

Media spend rows (``core.fct_marketing_spend``) are explored the same way with
:func:`spend_query` (:mod:`crmine.cube._spend`): sums of spend and results by any dimensions.
"""

from crmine.cube._filters import Filter, parse_where
from crmine.cube._query import CubeResult, pivot, query
from crmine.cube._spend import SPEND_MEASURES, spend_columns, spend_query
from crmine.cube._table import DEFAULT_BANDS, cube_columns

__all__ = ["DEFAULT_BANDS", "SPEND_MEASURES", "CubeResult", "Filter", "cube_columns",
           "parse_where", "pivot", "query", "spend_columns", "spend_query"]
