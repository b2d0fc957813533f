"""The model registry on MLflow: tracked training runs, versions, aliases ``champion`` and
``challenger``, a promotion gate whose decisions are recorded, and rollback.

The store is ``get_settings().mlflow_uri``: a SQLite file by default (no server), or an MLflow
server's URI. Model references are ``name@alias`` (``fire@champion``) or ``name/version``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from embercast.config import get_settings  # noqa: E402
from embercast.errors import InputError  # noqa: E402
from embercast.evaluation.evaluate import evaluate  # noqa: E402
from embercast.evaluation.feature_data import FeatureData, load_features  # noqa: E402
from embercast.models.base import FireDetector  # noqa: E402
from embercast.models.persistence import (  # noqa: E402
    Serialization,
    dumps_detector,
    trusted_types,
    verified_load,
)

logger = logging.getLogger(__name__)

EXPERIMENT = "embercast"
MODEL_FILES: dict[Serialization, str] = {"skops": "model.skops", "pickle": "model.pkl"}
"""The file inside a logged model (``mlflow.sklearn``) for each serialization: skops for every
detector it can hold (nothing runs when it is loaded), pickle for the others."""
GATE_METRICS = ("detection_rate", "ttd_median_s", "false_alarm_scenario_rate")
"""Held-out metrics the promotion gate compares (logged with every registered version)."""
_REF = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>\d+))$")


def _serialization(detector: FireDetector) -> tuple[Serialization, list[str] | None]:
    """skops, with the types to trust, when it can hold the detector (every tree model and
    baseline); else pickle."""
    try:
        data = dumps_detector(detector, "skops")
        return "skops", trusted_types(data, type(detector).__name__)
    except InputError:  # a PyTorch network
        return "pickle", None


class RegistryError(InputError):
    """The registry cannot be reached or used, or a reference is unknown (one-line message)."""


@dataclass(frozen=True)
class GateDecision:
    """Whether a version may become champion, and why; ``compared_on`` names the held-out
    scenarios both versions' metrics come from (empty without a champion to compare with)."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    compared_on: str = ""


def store_uri(value: str | None = None) -> str:
    """MLflow URI of the store: a path becomes ``sqlite:///ABSOLUTE_PATH``."""
    raw = value or get_settings().mlflow_uri
    if "://" in raw:
        return raw
    path = Path(raw).expanduser().resolve()
    return f"sqlite:///{path}"


def parse_ref(ref: str) -> tuple[str, str | None, int | None]:
    """(name, alias, version) of ``name@alias`` or ``name/version``.

    >>> parse_ref("fire@champion"), parse_ref("fire/3")
    (('fire', 'champion', None), ('fire', None, 3))
    """
    m = _REF.match(ref.strip())
    if not m:
        raise RegistryError(f"invalid model reference {ref!r}: expected NAME@ALIAS or NAME/VERSION")
    version = m.group("version")
    return m.group("name"), m.group("alias"), int(version) if version else None


def is_ref(text: str) -> bool:
    """Whether ``text`` looks like a registry reference (not a file path)."""
    return bool(_REF.match(text.strip())) and not Path(text).exists()


class Registry:
    """A handle on the MLflow tracking store and model registry."""

    def __init__(self, uri: str | None = None) -> None:
        import mlflow
        from mlflow import MlflowClient

        for noisy in ("mlflow", "alembic"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        self.uri = store_uri(uri)
        if self.uri.startswith("sqlite:///"):
            db = Path(self.uri.removeprefix("sqlite:///"))
            if db.exists() and db.is_file():
                with db.open("rb") as fh:
                    head = fh.read(16)
                if head and not head.startswith(b"SQLite format 3"):
                    raise RegistryError(f"the MLflow store {db} is not a SQLite database")
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RegistryError(f"cannot create the MLflow store at {db}: {exc}") from None
        self._mlflow = mlflow
        try:
            mlflow.set_tracking_uri(self.uri)
            mlflow.set_registry_uri(self.uri)
            self.client = MlflowClient(self.uri, self.uri)
            exp = self.client.get_experiment_by_name(EXPERIMENT)
            self.experiment_id = (
                exp.experiment_id
                if exp is not None
                else self.client.create_experiment(EXPERIMENT, self._artifact_location())
            )
        except Exception as exc:  # an unreachable server, a corrupt or foreign database
            raise RegistryError(
                f"the MLflow store {self.uri} cannot be used: {_line(exc)}"
            ) from None

    def _artifact_location(self) -> str | None:
        """Where a new experiment keeps its artifacts: ``mlartifacts`` beside a SQLite store
        (not the working directory's ``mlruns``), so the store and its models move together;
        the server's default for a server."""
        if not self.uri.startswith("sqlite:///"):
            return None
        db = Path(self.uri.removeprefix("sqlite:///")).resolve()
        return (db.parent / "mlartifacts").as_uri()

    def log_training(
        self,
        detector: FireDetector,
        *,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        artifacts: list[str] = (),  # type: ignore[assignment]
        register: str | None = None,
    ) -> tuple[str, int | None]:
        """Log a training run (params, metrics, lineage tags, plots, the model) and optionally
        register it as a new version of ``register``; returns (run id, version or None).

        Nothing is registered half-way: the version is created only after the run is logged.
        """
        mlflow = self._mlflow
        with mlflow.start_run(experiment_id=self.experiment_id) as run:
            mlflow.log_params({k: str(v) for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
            mlflow.set_tags(tags)
            for path in artifacts:
                mlflow.log_artifact(path)
            serialization, trusted = _serialization(detector)
            info = mlflow.sklearn.log_model(
                detector, name="model", serialization_format=serialization,
                skops_trusted_types=trusted, pip_requirements=["embercast"],
            )  # fmt: skip
        digest = hashlib.sha256(self._model_bytes(info.model_uri, serialization)).hexdigest()
        self.client.set_tag(run.info.run_id, "model_sha256", digest)
        self.client.set_tag(run.info.run_id, "model_serialization", serialization)
        if register is None:
            return run.info.run_id, None
        version = mlflow.register_model(
            info.model_uri, register, tags={"sha256": digest, "serialization": serialization}
        )
        number = int(version.version)
        for key, value in metrics.items():
            self.client.set_model_version_tag(register, str(number), f"metric.{key}", str(value))
        has_champion = self._alias_version(register, "champion") is not None
        alias = "challenger" if has_champion else "champion"
        self.client.set_registered_model_alias(register, alias, str(number))
        logger.info("registered %s/%d as %s@%s", register, number, register, alias)
        return run.info.run_id, number

    def _alias_version(self, name: str, alias: str) -> int | None:
        try:
            return int(self.client.get_model_version_by_alias(name, alias).version)
        except Exception:
            return None

    def resolve(self, ref: str) -> tuple[str, int]:
        """(name, version) of a reference; RegistryError if unknown."""
        name, alias, version = parse_ref(ref)
        if alias is not None:
            found = self._alias_version(name, alias)
            if found is None:
                raise RegistryError(f"unknown model reference {ref!r}: no {alias!r} of {name!r}")
            return name, found
        assert version is not None
        try:
            self.client.get_model_version(name, str(version))
        except Exception:
            raise RegistryError(f"unknown model reference {ref!r}") from None
        return name, version

    def load(self, ref: str) -> FireDetector:
        """The detector a reference points to, verified against the SHA-256 recorded when it
        was registered (tag ``sha256`` of the version) before it is unpickled; RegistryError
        when the artifact changed since or has no recorded hash."""
        name, version = self.resolve(ref)
        tags = self.client.get_model_version(name, str(version)).tags or {}
        serialization = tags.get("serialization", "pickle")
        if serialization not in MODEL_FILES:
            raise RegistryError(f"{ref!r}: unknown serialization {serialization!r}")
        data = self._model_bytes(f"models:/{name}/{version}", serialization)
        what = f"{ref!r} ({name}/{version})"
        try:
            return verified_load(data, tags.get("sha256"), what, serialization)
        except InputError as exc:
            raise RegistryError(str(exc)) from None

    def _model_bytes(self, uri: str, serialization: Serialization) -> bytes:
        """The file an MLflow model holds (``model.skops`` or ``model.pkl``)."""
        try:
            local = Path(self._mlflow.artifacts.download_artifacts(artifact_uri=uri))
        except Exception as exc:
            raise RegistryError(f"the model at {uri} cannot be read: {_line(exc)}") from None
        name = MODEL_FILES[serialization]
        path = local / name if local.is_dir() else local
        if not path.is_file():
            raise RegistryError(f"the model at {uri} holds no {name}")
        return path.read_bytes()

    def versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every version (of ``name``, or of all models) with aliases and held-out metrics."""
        try:
            models = self.client.search_registered_models()
        except Exception as exc:
            raise RegistryError(
                f"the MLflow store {self.uri} cannot be read: {_line(exc)}"
            ) from None
        rows = []
        for m in models:
            if name is not None and m.name != name:
                continue
            aliases: dict[str, list[str]] = {}
            for alias, version in (m.aliases or {}).items():
                aliases.setdefault(str(version), []).append(alias)
            for v in self.client.search_model_versions(f"name='{m.name}'"):
                tags = dict(v.tags or {})
                rows.append({
                    "name": m.name, "version": int(v.version), "run_id": v.run_id,
                    "aliases": sorted(aliases.get(str(v.version), [])),
                    "metrics": {k[7:]: _num(x) for k, x in tags.items() if k.startswith("metric.")},
                    "gate": {k[5:]: x for k, x in tags.items() if k.startswith("gate.")},
                })  # fmt: skip
        if name is not None and not rows:
            raise RegistryError(f"unknown model {name!r}")
        return sorted(rows, key=lambda r: (r["name"], r["version"]))

    def training_run(self, ref: str) -> dict[str, Any]:
        """The training run of the version ``ref`` names: name, version, its params (``model``,
        the alarm's) and tags (lineage: ``features_location``, ``features_content_hash``)."""
        name, version = self.resolve(ref)
        run_id = self.client.get_model_version(name, str(version)).run_id
        data = self.client.get_run(run_id).data if run_id else None
        return {"name": name, "version": version, "run_id": run_id,
                "params": dict(data.params) if data else {},
                "tags": dict(data.tags) if data else {}}  # fmt: skip

    def _measured_on(self, name: str, version: int) -> tuple[str, str, tuple[str, ...]]:
        """(content hash, location, split groups) of the feature set a version's recorded
        held-out metrics were measured on (from its training run's lineage; empty strings when
        not recorded)."""
        run_id = self.client.get_model_version(name, str(version)).run_id
        tags = dict(self.client.get_run(run_id).data.tags) if run_id else {}
        groups = tuple(g for g in tags.get("eval_groups", "test,holdout").split(",") if g)
        return tags.get("features_content_hash", ""), tags.get("features_location", ""), groups

    def _measure(
        self, name: str, versions: tuple[int, int], data: FeatureData, groups: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        """The gate's metrics of two versions on the same held-out scenarios (``groups`` of
        ``data``), each through its own alarm operating point."""

        detectors = {f"{name}/{v}": self.load(f"{name}/{v}") for v in versions}
        return [r.metrics for r in evaluate(data, detectors, eval_groups=groups)]

    def gate(self, name: str, version: int, data: FeatureData | None = None) -> GateDecision:
        """Compare a version's held-out metrics with the champion's (settings: gate_*), on the
        same scenarios: both are measured on ``data`` (a
        :class:`~embercast.evaluation.feature_data.FeatureData`, its ``test`` and ``holdout``
        scenarios) when given; else their recorded metrics are compared when both come from the same
        feature set and groups, and otherwise both are measured on the candidate's own
        held-out scenarios (its recorded feature set). Numbers from different scenarios are
        never compared: a version whose data cannot be read is refused, saying why."""
        settings = get_settings()
        champion = self._alias_version(name, "champion")
        if champion is None:
            return GateDecision(True, ["no other champion to compare with"])
        if champion == version:
            return GateDecision(True, [f"version {version} is the champion already"])
        mine, theirs = self._measured_on(name, version), self._measured_on(name, champion)
        if data is None and mine[0] and mine[0] == theirs[0] and mine[2] == theirs[2]:
            rows = {r["version"]: r for r in self.versions(name)}
            cand, champ = rows[version]["metrics"], rows[champion]["metrics"]
            where = f"recorded metrics, both on {','.join(mine[2])} of {mine[1]}"
        else:
            groups: tuple[str, ...] = ("test", "holdout")
            if data is None:
                if not mine[1]:
                    return GateDecision(False, [
                        f"version {version}'s held-out data is not recorded, so it cannot be "
                        f"compared with champion version {champion} on the same scenarios; "
                        "give a feature set to measure both on (promote --data)"
                    ])  # fmt: skip
                try:
                    data = load_features(mine[1].split(","))
                except ValueError as exc:
                    return GateDecision(False, [
                        f"version {version} and champion version {champion} were measured on "
                        f"different data and {mine[1]!r} cannot be read to measure both on the "
                        f"same scenarios ({_line(exc)}); give a feature set (promote --data)"
                    ])  # fmt: skip
                groups = mine[2]
            cand, champ = self._measure(name, (version, champion), data, groups)
            where = f"both measured on {','.join(groups)} of {data.location}"
        missing = [m for m in GATE_METRICS if cand.get(m) is None and m != "ttd_median_s"]
        if missing:
            return GateDecision(
                False, [f"version {version} has no held-out {', '.join(missing)}"], where
            )
        reasons = []
        if (
            cand["detection_rate"]
            < champ.get("detection_rate", 0.0) - settings.gate_max_detection_drop
        ):
            reasons.append(
                f"detection rate {cand['detection_rate']:.3f} < champion "
                f"{champ['detection_rate']:.3f}"
            )
        c_ttd, p_ttd = cand.get("ttd_median_s"), champ.get("ttd_median_s")
        if (
            c_ttd is not None
            and p_ttd is not None
            and c_ttd > p_ttd * (1 + settings.gate_max_ttd_increase)
        ):
            reasons.append(f"median time to detect {c_ttd:.0f} s > champion {p_ttd:.0f} s")
        c_fa = cand["false_alarm_scenario_rate"]
        p_fa = champ.get("false_alarm_scenario_rate")
        p_fa = 1.0 if p_fa is None else p_fa
        if c_fa > p_fa + settings.gate_max_false_alarm_increase:
            reasons.append(f"false-alarm rate {c_fa:.3f} > champion {p_fa:.3f}")
        return GateDecision(
            not reasons, reasons or [f"not worse than champion version {champion}"], where
        )

    def promote(self, ref: str, data: FeatureData | None = None) -> GateDecision:
        """Make a version champion if it passes the gate (:meth:`gate`, on ``data`` when
        given); the decision and reasons are recorded on the version (tags ``gate.passed``,
        ``gate.reasons``, ``gate.champion_before``, ``gate.compared_on``)."""
        name, version = self.resolve(ref)
        decision = self.gate(name, version, data)
        logger.info(
            "gate for %s/%d: %s (%s)", name, version,
            "passed" if decision.passed else "refused", "; ".join(decision.reasons) or "no reason",
        )  # fmt: skip
        before = self._alias_version(name, "champion")
        v = str(version)
        self.client.set_model_version_tag(name, v, "gate.passed", str(decision.passed).lower())
        self.client.set_model_version_tag(name, v, "gate.reasons", json.dumps(decision.reasons))
        self.client.set_model_version_tag(name, v, "gate.champion_before", str(before))
        self.client.set_model_version_tag(name, v, "gate.compared_on", decision.compared_on)
        if decision.passed:
            if before is not None and before != version:
                self.client.set_registered_model_tag(name, "previous_champion", str(before))
            self.client.set_registered_model_alias(name, "champion", v)
            if self._alias_version(name, "challenger") == version:
                self.client.delete_registered_model_alias(name, "challenger")
        return decision

    def previous_champion(self, name: str) -> int | None:
        """The version that was champion before the current one (None when none was)."""
        tags = self.client.get_registered_model(name).tags or {}
        previous = tags.get("previous_champion")
        return None if not previous or previous == "None" else int(previous)

    def rollback(self, name: str) -> int:
        """Give the champion alias back to the previous champion; returns its version."""
        self.versions(name)
        tags = self.client.get_registered_model(name).tags or {}
        previous = tags.get("previous_champion")
        if not previous or previous == "None":
            raise RegistryError(f"{name!r} has no previous champion to roll back to")
        current = self._alias_version(name, "champion")
        self.client.set_registered_model_alias(name, "champion", previous)
        self.client.set_registered_model_tag(name, "previous_champion", str(current))
        logger.info("%s@champion: version %s -> %s (rollback)", name, current, previous)
        return int(previous)


def _num(text: str) -> float | None:
    try:
        return None if text in ("None", "nan") else float(text)
    except ValueError:
        return None


def _line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
