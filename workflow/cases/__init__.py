"""The administrative case process (行政处罚案件办理) as data, and who may see or do what.

The 14 steps of ``shared/reference/case-process.md`` (线索登记 to 结案) and the three
procedures (general, simplified, fast-track) are one table, ``process.toml``: states, actions
and transitions with the roles that may take them, the guards that must pass and the documents
each action generates. Guards (``guards.py``) are small pure functions of :class:`CaseFacts`:
the caller precomputes what depends on the clock or the database (the deadline engine in
``workflow.deadlines`` says whether the statement window has ended), so this package needs
neither. ``access.toml`` is the one authorisation table of views and actions.

::

    process.available(state, role, procedure, facts) -> list[Option]
    process.take(state, action, role, procedure, facts) -> Transition  # TransitionRefused...
    graph.mermaid(procedure=None) -> str;  graph.dot(procedure=None) -> str
    access.can(role, verb, subject) -> Decision                        # truthy when allowed
"""
