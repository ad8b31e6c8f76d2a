"""The customer cube: count, list, export and group customers by any combination of dimensions.

Three units: the cube table (:mod:`crmine.cube._table`: built from the warehouse,
materialised, kept fresh), the filters (:mod:`crmine.cube._filters`: parsed, validated, bound
as parameters) and the query (:mod:`crmine.cube._query`: counts, groups, pages, exports).

Examples
--------
>>> from crmine.cube import query                                             # doctest: +SKIP
>>> query(ws, where=["gender=F", "city=Shanghai"], by="region").groups         # doctest: +SKIP
>>> query("my_workspace", where=["value_tier=A"]).count                        # doctest: +SKIP
"""

from crmine.cube._filters import Filter, parse_where
from crmine.cube._query import CubeResult, pivot, query
from crmine.cube._table import DEFAULT_BANDS, cube_columns

__all__ = ["DEFAULT_BANDS", "CubeResult", "Filter", "cube_columns", "parse_where", "pivot",
           "query"]
