"""The supervisor's settings: runtime settings changed while it runs, per-workflow overrides,
and write-only credentials (sealed with the runtime's key before they reach the store).

Stored settings (key ``runtime`` in the settings table) win over the environment ``hub up``
started with, except the gates (hub.gates): those only the environment opens, and stored
settings can only close them. Settings that size pools (hub.settings.RESTART_SETTINGS) take
effect at the next start and are reported as ``restart_required`` until then.
"""

from __future__ import annotations

import logging
from typing import Any

from actors._lifecycle import remote
from hub.credentials import seal_credential
from hub.errors import HubError, InvalidRequest
from hub.gates import check_within, gate_states, settings_at_start, stored_row
from hub.nodes import default_registry
from hub.overrides import (
    EffectiveSettings,
    apply_settings,
    definition_digest,
    effective_settings,
)
from hub.placement import check_pool_settings
from hub.records import ExecutionRecord, WorkflowRecord
from hub.settings import RESTART_SETTINGS, RuntimeSettings, WorkflowOverrides, with_changes

RUNTIME_KEY = "runtime"
OVERRIDES_KEY = "workflow_overrides"
_log = logging.getLogger("runtime_hub.settings")


RUN_SETTINGS_KEPT = 256  # workflows' run settings kept at once (_run_settings)


class SettingsControl:
    settings: RuntimeSettings
    # What the environment that started the runtime gave: the widest the gates may be.
    environment_settings: RuntimeSettings
    _desktop: Any  # the DesktopActor, once made (actors._resources)
    recorder: Any
    admission: Any
    shared: Any  # hub.admission.SharedPool
    shared_admission: Any
    sealing_key: str | None
    started_settings: RuntimeSettings
    overrides: dict[str, WorkflowOverrides]
    workflows: dict[tuple[str, str | None], Any]  # the supervisor's plan cache
    # What runs start with, by the identities of what it comes from (_run_settings).
    _settings_of_runs: dict[tuple[int, int, int], Any]
    _run_basis_of: tuple[RuntimeSettings, list[str], dict[str, str], dict[str, Any]] | None

    async def triggers_changed(self) -> None:
        raise NotImplementedError  # the supervisor's

    async def _load_stored_settings(self) -> None:
        stored = await self.recorder.get_setting.remote(RUNTIME_KEY)
        if isinstance(stored, dict):
            settings, warnings = settings_at_start(self.environment_settings, stored)
            for warning in warnings:
                _log.warning("%s", warning)
            self._apply(settings)
            self.started_settings = self.settings
        raw = await self.recorder.get_setting.remote(OVERRIDES_KEY)
        if isinstance(raw, dict):
            self.overrides = {k: WorkflowOverrides.model_validate(v) for k, v in raw.items()}

    def _apply(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self.admission.limit = min(
            settings.max_concurrent_executions, self.started_settings.max_execution_actors
        )
        self.shared_admission.limit = settings.shared_max_executions
        self.shared.size = settings.shared_execution_actors

    def settings_view(self) -> dict[str, Any]:
        pending = sorted(
            name
            for name in RESTART_SETTINGS
            if getattr(self.settings, name) != getattr(self.started_settings, name)
        )
        gates = gate_states(self.environment_settings, self.settings)
        return {
            "settings": self.settings.model_dump(mode="json"),
            "restart_required": pending,
            "gates": {name: gate.model_dump(mode="json") for name, gate in gates.items()},
        }

    async def get_settings(self) -> dict[str, Any]:
        return self.settings_view()

    def _changed(self, changes: dict[str, Any]) -> RuntimeSettings:
        """The settings with ``changes``, checked field by field, against the node types and
        against the gates the runtime's environment keeps closed (GateLocked)."""
        new = with_changes(self.settings, changes)
        check_within(self.environment_settings, new)
        try:
            check_pool_settings(new.node_pool_resources, default_registry())
        except HubError as exc:
            raise InvalidRequest(str(exc)) from None
        return new

    async def validate_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        return self._changed(changes).model_dump(mode="json")

    async def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` now (stored; those in RESTART_SETTINGS at the next start)."""
        new = self._changed(changes)
        row = stored_row(self.environment_settings, new)
        await remote(self.recorder.set_setting.remote(RUNTIME_KEY, row))
        self._apply(new)
        if self._desktop is not None:  # made with the gates of its day: a closing applies now
            await remote(self._desktop.set_gates.remote(new.enable_desktop, new.desktop_dry_run))
        return self.settings_view()

    # --- per-workflow overrides -------------------------------------------------------------

    async def get_workflow_overrides(self, workflow_id: str) -> WorkflowOverrides:
        return self.overrides.get(workflow_id, WorkflowOverrides())

    async def all_workflow_overrides(self) -> dict[str, WorkflowOverrides]:
        return dict(self.overrides)

    async def set_workflow_overrides(
        self, workflow_id: str, overrides: WorkflowOverrides | None
    ) -> WorkflowOverrides:
        updated = dict(self.overrides)
        if overrides is None or overrides == WorkflowOverrides():
            updated.pop(workflow_id, None)
        else:
            updated[workflow_id] = overrides
        data = {k: v.model_dump(mode="json", exclude_none=True) for k, v in updated.items()}
        await remote(self.recorder.set_setting.remote(OVERRIDES_KEY, data))
        self.overrides = updated
        return updated.get(workflow_id, WorkflowOverrides())

    def _run_settings(
        self, workflow: WorkflowRecord
    ) -> tuple[EffectiveSettings, dict[str, Any], dict[str, Any], str]:
        """A new run's effective settings, as stored with it (JSON), the definition it
        executes and that definition's digest: worked out once for a workflow record, the
        runtime's settings and the workflow's overrides, each of which is replaced, never
        changed, when it changes (every start needs them; the definition is a deep copy).
        Shared by the runs that start with them: nothing changes them."""
        overrides = self.overrides.get(workflow.id)
        sources = (workflow, self.settings, overrides)
        key = (id(workflow), id(self.settings), id(overrides))
        cached = self._settings_of_runs.get(key)
        if cached is None or any(a is not b for a, b in zip(cached[:3], sources, strict=True)):
            effective = effective_settings(workflow.definition, self.settings, overrides)
            definition = apply_settings(workflow.definition, effective)
            digest = definition_digest(definition)
            if len(self._settings_of_runs) >= RUN_SETTINGS_KEPT:
                self._settings_of_runs.clear()
            cached = self._settings_of_runs[key] = (
                *sources,
                (effective, effective.model_dump(mode="json"), definition, digest),
            )
        return cached[3]

    def _run_basis(self) -> tuple[list[str], dict[str, str], dict[str, dict[str, Any]]]:
        """What every run starts with from the runtime's settings: the enabled families
        (sorted), the environment it may read and the node types' defaults. Worked out once
        per settings object (replaced, never changed, when the settings change); a run's order
        and record hold copies of them."""
        basis = self._run_basis_of
        if basis is None or basis[0] is not self.settings:
            settings = self.settings
            basis = self._run_basis_of = (
                settings,
                sorted(settings.enabled_families()),
                settings.allowed_env(),
                settings.node_defaults(),
            )
        return basis[1], basis[2], basis[3]

    def _definition_for(self, workflow: WorkflowRecord, record: ExecutionRecord) -> dict[str, Any]:
        """The definition ``record`` runs: with the settings snapshot it started with."""
        snapshot = record.settings.get("effective")
        if not snapshot:
            return workflow.definition
        return apply_settings(workflow.definition, EffectiveSettings.model_validate(snapshot))

    # --- credentials ------------------------------------------------------------------------

    async def set_credential(self, name: str, value: str | dict[str, Any]) -> None:
        if not self.sealing_key:
            raise InvalidRequest("this runtime has no key to seal credentials with")
        ciphertext = seal_credential(value, self.sealing_key)
        await remote(self.recorder.set_credential.remote(name, ciphertext))

    async def forget_workflow(self, workflow_id: str) -> None:
        """Drop cached plans of a deleted workflow (runs already started keep theirs)."""
        for key in [k for k in self.workflows if k[0] == workflow_id]:
            self.workflows.pop(key, None)
        if workflow_id in self.overrides:
            await self.set_workflow_overrides(workflow_id, None)
        await self.triggers_changed()
