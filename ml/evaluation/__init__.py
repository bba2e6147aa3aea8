"""Offline evaluation of the tip orchestrator on synthetic user scenarios.

``scenarios.yaml`` (written by ``generate`` from ``scenario_specs``) holds the users;
``dataset`` validates it, ``harness`` runs it through a real Nudge and orchestrator,
``report`` renders the results, ``tracking`` logs them to MLflow and ``command`` is
``nudge eval``.
"""
