"""Legal basis and discretion (issue 11): the catalogue as versioned data, the ranking of its
entries on a case's facts and captured text, and the officer's choice as the case records it.

``catalogue`` (the text and its checks), ``ranking`` (pure), ``choice`` (pure: what a choice
records, and reading it back for the documents) and ``versions`` (the append-only table).
Recording a choice on a case is ``workflow.cases.legal_basis``: this package knows nothing of
cases, so the case documents can read it."""
