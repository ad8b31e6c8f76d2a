"""Privacy by design: erasure that reaches every copy, subject access, classification of
personal data, pseudonymised export with k-anonymity, encryption at rest, retention and an
audit trail (issue 17)."""

from crmine.privacy._access import subject_access, write_subject_access
from crmine.privacy._audit import AuditCheck, audit_entries, verify
from crmine.privacy._classify import classify_columns
from crmine.privacy._detect import Finding, detect
from crmine.privacy._encrypt import encrypt_workspace, rotate_key
from crmine.privacy._erase import ErasureReceipt, erase, load_accounting
from crmine.privacy._pseudonymise import (
    Anonymised,
    anonymise,
    load_key,
    pseudonym,
    pseudonymised_export,
)
from crmine.privacy._reidentify import reidentify
from crmine.privacy._retention import RetentionResult, apply_retention
from crmine.privacy._subjects import Subjects, find_subjects
from crmine.privacy._traces import Trace, file_traces, table_traces, traces

__all__ = [
    "Anonymised",
    "AuditCheck",
    "ErasureReceipt",
    "Finding",
    "RetentionResult",
    "Subjects",
    "Trace",
    "anonymise",
    "apply_retention",
    "audit_entries",
    "classify_columns",
    "detect",
    "encrypt_workspace",
    "erase",
    "file_traces",
    "find_subjects",
    "load_accounting",
    "load_key",
    "pseudonym",
    "pseudonymised_export",
    "reidentify",
    "rotate_key",
    "subject_access",
    "table_traces",
    "traces",
    "verify",
    "write_subject_access",
]
