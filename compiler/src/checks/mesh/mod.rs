//! Mesh checks: what the service-to-service policy allows, loops through it, and its identities.
//! One file per rule; the codes are documented here.

pub mod dead_allow;
pub mod denied_forward;
pub mod explicit_default;
pub mod forwarding_cycle;
pub mod policy;
pub mod trust_domain;

use crate::diagnostics::Diagnostic;
use crate::graph::ProgramGraph;
use crate::resolve::Program;

crate::diagnostics::codes::codes! {
    /// A route forwards to a service the mesh denies to its gateway.
    FORWARD_DENIED_BY_MESH = "E0300", "forward denied by the mesh",
        "A gateway route forwards to a service, but the mesh policy refuses every call from that gateway to it: an unconditional deny rule names the pair (deny beats allow, so an allow rule does not help), or no rule allows it and the default is deny. Every request on the route would be refused. The error names the deny rule or the default.",
        "Add an allow rule for the gateway and service, narrow the deny rule, or forward elsewhere.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public forward picard }\n}\nservice picard { endpoints [\"127.0.0.1:9101\"] }\nmesh { default deny }";
    /// A mesh allow rule never changes a decision.
    MESH_ALLOW_NEVER_APPLIES = "W0301", "mesh allow never applies",
        "Deny beats allow. Under `default allow`, an allow rule never changes a decision; otherwise this rule's every caller → service pair is also named by an unconditional deny rule, so it grants nothing. The real policy is elsewhere.",
        "Remove the rule, narrow the deny rule (or give it a `when`), or make the default `deny`.",
        "mesh {\n  default deny\n  deny * -> riker\n  allow edge -> riker\n}";
    /// A mesh block states no default.
    MESH_DEFAULT_MISSING = "E0302", "mesh default missing",
        "A program with a `mesh` block must say what happens to calls no rule names: `default allow` or `default deny`. Meshes disagree on the implicit default, so Meshwork has none.",
        "Add `default deny` (recommended: only listed calls pass) or `default allow`.",
        "mesh { allow edge -> picard }";
    /// Requests loop back into the program.
    FORWARDING_CYCLE = "E0303", "forwarding cycle",
        "A service's endpoint is one of this program's own listeners, and following routes, forwards and streams from that listener leads back to the service. Every request would loop until it times out. The error lists the loop.",
        "Point the endpoint at the real upstream address.",
        "gateway edge {\n  listen \"0.0.0.0:8080\"\n  route r { match GET \"/\" public forward self }\n}\nservice self { endpoints [\"127.0.0.1:8080\"] }";
    /// The trust domain is not a SPIFFE trust domain name.
    TRUST_DOMAIN_INVALID = "E0350", "invalid trust domain",
        "`trust_domain` names the SPIFFE trust domain identities are derived in (`spiffe://<trust_domain>/<name>` for every service and gateway without an `identity`). A trust domain name has only lower-case letters, digits, `.`, `-` and `_`; anything else (a scheme, a path, upper case) yields identities no certificate authority issues and no peer presents.",
        "Write the domain name alone, in lower case.",
        "mesh {\n  default deny\n  trust_domain \"spiffe://Starfleet\"\n}";
}

/// Runs every mesh check.
pub fn check(program: &Program, graph: &ProgramGraph) -> Vec<Diagnostic> {
    let mut out = explicit_default::check(program);
    out.extend(denied_forward::check(program));
    out.extend(dead_allow::check(program));
    out.extend(trust_domain::check(program));
    out.extend(forwarding_cycle::check(graph));
    out
}
