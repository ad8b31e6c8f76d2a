"""The customer cube: count, list, export and group customers by any combination of dimensions.

Examples
--------
>>> from crmine.cube import query                                             # doctest: +SKIP
>>> query(ws, where=["gender=F", "city=Shanghai"], by="region").groups         # doctest: +SKIP
"""

from crmine.cube._cube import (
    DEFAULT_BANDS,
    CubeResult,
    Filter,
    cube_columns,
    parse_where,
    pivot,
    query,
)

__all__ = ["DEFAULT_BANDS", "CubeResult", "Filter", "cube_columns", "parse_where", "pivot",
           "query"]
