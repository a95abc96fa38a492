//! The mesh as one bundle defines it, compiled once per load: the rules with their `when`
//! conditions compiled to request CEL, and the identities that tell a verified peer's SPIFFE ID
//! back to the gateway or service it belongs to. A reload builds a new one, so a changed rule
//! decides the next request.

use std::collections::HashMap;

use meshwork_bundle::mesh_policy::{self, Condition, IdentityDirectory, MeshDecision, MeshSource};
use meshwork_bundle::{Bundle, Mesh, MtlsMode};

use crate::admit::cel::{CelCompileError, CelInput, MeshCaller, RequestCondition};
use crate::admit::RequestFacts;
use crate::forward::fault_injection::{FaultBuildError, FaultDecision, FaultInjection};

use super::identity::SpiffeId;
use super::mesh_metrics::{MeshMetrics, NameId};
use super::pair_mirrors::PairMirrors;

/// How metrics and logs name a plaintext caller.
pub const UNAUTHENTICATED: &str = "unauthenticated";
/// How metrics and logs name a verified caller whose identity no gateway or service has.
pub const UNKNOWN: &str = "unknown";

/// A mesh rule whose condition does not compile (the compiler refuses it; a hand-made bundle
/// could hold it).
#[derive(Debug, thiserror::Error)]
#[error("mesh rule at {at}: `when {source_text}` does not compile: {error}")]
pub struct MeshRuleError {
    at: String,
    source_text: String,
    error: CelCompileError,
}

/// The mesh policy of one bundle, ready to decide calls.
#[derive(Debug)]
pub struct MeshState {
    policy: Mesh,
    conditions: Vec<Option<RequestCondition>>,
    directory: IdentityDirectory,
    /// Metric ids of the members' names, and of `unauthenticated` and `unknown`.
    name_ids: HashMap<String, NameId>,
    unauthenticated_id: NameId,
    unknown_id: NameId,
    /// The faults on pairs into the sidecar's own service (none outside a sidecar).
    pair_faults: Option<FaultInjection>,
    /// The mirrors of the sidecar's own service's calls (none outside a sidecar).
    pair_mirrors: PairMirrors,
}

/// Who called, as the mesh knows it from the TLS peer: the program member the identity belongs
/// to, if any.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The member's name (`None`: plaintext, or an identity no member has).
    pub name: Option<&'a str>,
    /// The verified identity (`None`: plaintext).
    pub identity: Option<&'a str>,
    /// Its id in the mesh counters.
    pub metric_id: NameId,
}

impl Caller<'_> {
    /// The caller for the shared decision.
    pub fn source(&self) -> MeshSource<'_> {
        MeshSource {
            name: self.name,
            identity: self.identity,
        }
    }

    /// How metrics and logs name it: the member, `unauthenticated` (plaintext) or `unknown`.
    pub fn label(&self) -> &str {
        match (self.name, self.identity) {
            (Some(name), _) => name,
            (None, None) => UNAUTHENTICATED,
            (None, Some(_)) => UNKNOWN,
        }
    }
}

impl MeshState {
    /// Compiles the mesh of `bundle`; names are given ids in `metrics`.
    pub fn build(bundle: &Bundle, metrics: &MeshMetrics) -> Result<MeshState, MeshRuleError> {
        let conditions = bundle
            .mesh
            .rules
            .iter()
            .map(|rule| {
                let Some(when) = &rule.when else {
                    return Ok(None);
                };
                RequestCondition::compile(when)
                    .map(Some)
                    .map_err(|error| MeshRuleError {
                        at: format!("{}:{}", rule.source.file, rule.source.line),
                        source_text: when.clone(),
                        error,
                    })
            })
            .collect::<Result<_, _>>()?;
        let members = bundle
            .services
            .iter()
            .map(|s| &s.name)
            .chain(bundle.gateways.iter().map(|g| &g.name));
        let name_ids = members
            .map(|name| (name.clone(), metrics.name_id(name)))
            .collect();
        Ok(MeshState {
            policy: bundle.mesh.clone(),
            conditions,
            directory: IdentityDirectory::build(bundle),
            name_ids,
            unauthenticated_id: metrics.name_id(UNAUTHENTICATED),
            unknown_id: metrics.name_id(UNKNOWN),
            pair_faults: None,
            pair_mirrors: PairMirrors::default(),
        })
    }

    /// Builds the faults of the mesh pairs into `service`, the one this sidecar stands beside:
    /// its inbound side injects them, where the caller's identity is verified.
    pub fn with_pair_faults(
        mut self,
        service: &str,
        seed: Option<u64>,
        metrics: &MeshMetrics,
    ) -> Result<Self, FaultBuildError> {
        self.pair_faults =
            FaultInjection::build_pairs(service, &self.policy.faults, seed, |fault, kind| {
                metrics.fault_counter(&fault.from, service, kind)
            })?;
        Ok(self)
    }

    /// Sets the mirrors of the calls the sidecar's service makes: its outbound side copies them.
    pub fn with_pair_mirrors(mut self, mirrors: PairMirrors) -> Self {
        self.pair_mirrors = mirrors;
        self
    }

    /// The mirrors of the sidecar's calls, by destination.
    pub fn pair_mirrors(&self) -> &PairMirrors {
        &self.pair_mirrors
    }

    /// The faults for one allowed call from `caller` into the sidecar's service.
    pub fn pair_faults(&self, caller: &Caller<'_>, facts: &RequestFacts<'_>) -> FaultDecision {
        let Some(faults) = &self.pair_faults else {
            return FaultDecision::default();
        };
        let cel_caller = MeshCaller {
            service: caller.name.unwrap_or(""),
            identity: caller.identity.unwrap_or(""),
        };
        faults.decide_call(caller.name, CelInput::mesh_call(facts, cel_caller))
    }

    /// The policy as the bundle holds it.
    pub fn policy(&self) -> &Mesh {
        &self.policy
    }

    /// Whether mesh traffic must be mutual TLS.
    pub fn mtls(&self) -> MtlsMode {
        self.policy.mtls
    }

    /// The caller presenting `peer` (`None`: a plaintext connection).
    pub fn caller<'a>(&'a self, peer: Option<&'a SpiffeId>) -> Caller<'a> {
        let identity = peer.map(SpiffeId::as_str);
        let name = identity
            .and_then(|id| self.directory.member(id))
            .map(|member| member.name.as_str());
        let metric_id = match (name, identity) {
            (Some(name), _) => self.name_id(name),
            (None, None) => self.unauthenticated_id,
            (None, Some(_)) => self.unknown_id,
        };
        Caller {
            name,
            identity,
            metric_id,
        }
    }

    /// The program member `name` (a service or gateway) as a caller, with its identity.
    pub fn member<'a>(&'a self, name: &'a str, identity: Option<&'a str>) -> Caller<'a> {
        Caller {
            name: Some(name),
            identity,
            metric_id: self.name_id(name),
        }
    }

    /// The metric id of a gateway or service of the bundle, or `unknown`'s.
    pub fn name_id(&self, name: &str) -> NameId {
        self.name_ids.get(name).copied().unwrap_or(self.unknown_id)
    }

    /// The decision for a call from `caller` to `destination`, with the request's values in the
    /// `when` conditions: the shared decision `meshc explain --from` prints.
    pub fn decide<'m>(
        &'m self,
        caller: &Caller<'_>,
        destination: &str,
        facts: &RequestFacts<'_>,
    ) -> MeshDecision<'m> {
        let cel_caller = MeshCaller {
            service: caller.name.unwrap_or(""),
            identity: caller.identity.unwrap_or(""),
        };
        mesh_policy::decide(&self.policy, &caller.source(), destination, |index, _| {
            let Some(Some(condition)) = self.conditions.get(index) else {
                return Condition::Holds;
            };
            match condition.evaluate(CelInput::mesh_call(facts, cel_caller)) {
                Ok(true) => Condition::Holds,
                Ok(false) => Condition::Fails,
                Err(error) => Condition::Error(error.to_string()),
            }
        })
    }

    /// The decision for a connection from `caller` to the tcp service `destination`. A connection
    /// has no request, so a rule's `when` cannot be read and fails closed: a conditional deny
    /// applies, a conditional allow does not (meshc refuses conditions on a tcp service by name,
    /// E0310; this is for rules on `*`).
    pub fn decide_connection<'m>(
        &'m self,
        caller: &Caller<'_>,
        destination: &str,
    ) -> MeshDecision<'m> {
        mesh_policy::decide(
            &self.policy,
            &caller.source(),
            destination,
            mesh_policy::on_connection,
        )
    }

    /// Whether `source` may ever call `destination` (conditions read statically): what a
    /// sidecar health-checks.
    pub fn may_call(&self, source: &str, destination: &str) -> bool {
        let source = MeshSource::member(source, None);
        mesh_policy::decide(&self.policy, &source, destination, mesh_policy::possibly).is_allowed()
    }
}
