//! The mesh policy, evaluated once for everyone: meshd's sidecars decide each call with it,
//! `meshc explain --from` prints its answer, and the compiler's mesh checks ask it whether a call
//! can ever pass. One function, so the three never disagree.

pub mod decision;
pub mod identity;
pub mod service_host;

pub use decision::{
    decide, denied_by, describe_rule, on_connection, possibly, rule_names, Condition, DecidedBy,
    MeshDecision, MeshSource,
};
pub use identity::{
    derived_identity, is_trust_domain_name, trust_domain_of, IdentityDirectory, Member, MemberKind,
    SPIFFE_SCHEME,
};
pub use service_host::ServiceHosts;

#[cfg(test)]
mod tests;
