//! The mesh: for every caller (gateway or service) and every service of either program, the
//! standing verdict before and after ([`crate::reach::mesh_verdict`]); pairs whose verdict
//! changes are reported, and the mTLS mode.

use std::collections::BTreeSet;

use meshwork_bundle::{Bundle, MtlsMode, SidecarHop};

use crate::reach::{mesh_verdict, MeshVerdict};

use super::change::{Change, ChangeKind};
use super::describe::at;

fn callers(bundle: &Bundle) -> impl Iterator<Item = &str> {
    bundle
        .gateways
        .iter()
        .map(|g| g.name.as_str())
        .chain(bundle.services.iter().map(|s| s.name.as_str()))
}

fn has_service(bundle: &Bundle, name: &str) -> bool {
    bundle.services.iter().any(|s| s.name == name)
}

fn has_caller(bundle: &Bundle, name: &str) -> bool {
    callers(bundle).any(|c| c == name)
}

fn rule_at(verdict: &MeshVerdict<'_>) -> Option<String> {
    match verdict {
        MeshVerdict::Allowed { rule, .. } | MeshVerdict::Denied { rule } => {
            rule.map(|r| at(&r.source))
        }
    }
}

/// How open a verdict is: denied < allowed with conditions < allowed.
fn openness(verdict: &MeshVerdict<'_>) -> u8 {
    match verdict {
        MeshVerdict::Denied { .. } => 0,
        _ if verdict.is_unconditional() => 2,
        _ => 1,
    }
}

/// Every mesh change from `old` to `new`.
pub fn mesh_changes(old: &Bundle, new: &Bundle, out: &mut Vec<Change>) {
    if old.mesh.mtls != new.mesh.mtls {
        let (kind, message) = match new.mesh.mtls {
            MtlsMode::Permissive => (
                ChangeKind::WeakerAuth,
                "mTLS is now permissive: plain connections are accepted",
            ),
            MtlsMode::Strict => (
                ChangeKind::StrongerAuth,
                "mTLS is now strict: plain connections are refused",
            ),
        };
        out.push(Change::new(kind, "mesh", message, None));
    }
    if old.mesh.between_sidecars != new.mesh.between_sidecars {
        let message = match new.mesh.between_sidecars {
            SidecarHop::H2 => {
                "calls to HTTP/1.1 services now go between sidecars as HTTP/2 streams"
            }
            SidecarHop::Http1 => "calls to HTTP/1.1 services now go between sidecars as HTTP/1.1",
        };
        out.push(Change::new(ChangeKind::Topology, "mesh", message, None));
    }
    let all_callers: BTreeSet<&str> = callers(old).chain(callers(new)).collect();
    let services: BTreeSet<&str> = old
        .services
        .iter()
        .chain(new.services.iter())
        .map(|s| s.name.as_str())
        .collect();
    for caller in &all_callers {
        for service in &services {
            if caller == service {
                continue;
            }
            let present_before = has_caller(old, caller) && has_service(old, service);
            let present_after = has_caller(new, caller) && has_service(new, service);
            let before = mesh_verdict(&old.mesh, caller, service);
            let after = mesh_verdict(&new.mesh, caller, service);
            let subject = format!("mesh {caller} -> {service}");
            match (present_before, present_after) {
                (true, true) if before.describe() != after.describe() => {
                    let kind = if openness(&after) > openness(&before)
                        || (openness(&after) == openness(&before) && after.is_allowed())
                    {
                        ChangeKind::MeshAllowed
                    } else {
                        ChangeKind::MeshDenied
                    };
                    out.push(Change::new(
                        kind,
                        subject,
                        format!("{} → {}", before.describe(), after.describe()),
                        rule_at(&after).or_else(|| rule_at(&before)),
                    ));
                }
                (false, true) if after.is_allowed() => out.push(Change::new(
                    ChangeKind::MeshAllowed,
                    subject,
                    format!("new pair, {}", after.describe()),
                    rule_at(&after),
                )),
                _ => {}
            }
        }
    }
}
