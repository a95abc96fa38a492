//! Mesh checks: what the service-to-service policy allows (to routes and to streams), loops
//! through it, and the identities the mesh is deployed with. One file per rule; the codes are
//! documented here.

pub mod dead_allow;
pub mod denied_delivery;
pub mod denied_forward;
pub mod explicit_default;
pub mod forwarding_cycle;
pub mod identities;
pub mod pair_faults;
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
        "Deny beats allow. Under `default allow`, an allow rule never changes a decision; otherwise this rule's every caller → service pair is also named by an unconditional deny rule, or its `when` can never hold (two methods required at once, a header required present and absent: the terms the compiler can decide, as for routes), so it grants nothing. The real policy is elsewhere.",
        "Remove the rule, narrow the deny rule (or give it a `when`), make the default `deny`, or make the condition's terms agree.",
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
    /// A workload of a strict-mTLS mesh without an identity.
    IDENTITY_MISSING = "E0304", "mesh identity missing",
        "The mesh says `mtls strict`, so every call between workloads is mutual TLS, and a sidecar knows its caller only by the URI SAN of its certificate, mapped to a service or gateway by identity. This service, or this gateway that forwards into the mesh, has no identity (none written, and no `trust_domain` to derive `spiffe://<trust_domain>/<name>` from): it cannot be issued a certificate its peers accept, and the calls it makes or receives are refused.",
        "Give it `identity \"spiffe://<trust-domain>/<name>\"`, name the mesh's `trust_domain` so every service and gateway gets one, or use `mtls permissive` while the mesh is migrated.",
        "service riker { endpoints [\"127.0.0.1:9103\"] }\nmesh {\n  default deny\n  mtls strict\n}";
    /// Two workloads with one identity.
    IDENTITY_SHARED = "E0305", "shared mesh identity",
        "Two services or gateways present the same identity, written or derived from the trust domain. A sidecar maps a verified peer to a service or gateway by identity, so a call from one is judged as the other: `allow picard -> riker` then also lets the other through, and a compromise of either is a compromise of both.",
        "Give every service and gateway its own identity.",
        "service picard { endpoints [\"127.0.0.1:9101\"] identity \"spiffe://starfleet/picard\" }\nservice data { endpoints [\"127.0.0.1:9104\"] identity \"spiffe://starfleet/picard\" }";
    /// An identity that is not a valid SPIFFE ID of the mesh's trust domain.
    IDENTITY_INVALID = "E0306", "invalid mesh identity",
        "A mesh identity is a SPIFFE ID, `spiffe://<trust-domain>/<path>`: a lowercase trust domain of letters, digits, `.`, `-` and `_` (no port or user), path segments of letters, digits, `.`, `-` and `_` (none empty, `.` or `..`, no trailing `/`), no percent-encoding, query or fragment, at most 2048 bytes; it names a workload (a path), not a trust domain; and when the mesh names its `trust_domain`, it lies in it. Anything else is never in a certificate this mesh's CA issues and its peers trust (`meshd ca issue` and SPIRE refuse a malformed one), so every call to or from the workload fails. The label points at the first character that breaks the rule.",
        "Write the identity as `spiffe://<trust-domain>/<name>`, in the mesh's trust domain.",
        "service picard { endpoints [\"127.0.0.1:9101\"] identity \"spiffe://Starfleet:443/picard\" }";
    /// A stream's deliveries the mesh refuses.
    DELIVERY_DENIED_BY_MESH = "E0307", "delivery denied by the mesh",
        "A stream's `deliver` targets a service the mesh refuses to the stream's identity. Streams run in the process that runs the program's gateway (`meshd run`), so they call with the gateway's identity: with one gateway its rules decide; with several, the delivery is reported when every gateway is denied; with none, the stream has no identity, so only rules on `*` and the default apply, and `mtls strict` refuses it. Every record would be refused with 403, retried, and dead-lettered.",
        "Allow the gateway to call the service (`allow edge -> pager`), narrow the deny rule, or deliver elsewhere.",
        "gateway edge { listen \"127.0.0.1:8080\" }\nservice pager { endpoints [\"127.0.0.1:9105\"] }\nstream alerts { from topic \"log\" deliver pager }\ntopic \"log\" external\nmesh { default deny }";
    /// The trust domain is not a SPIFFE trust domain name.
    TRUST_DOMAIN_INVALID = "E0350", "invalid trust domain",
        "`trust_domain` names the SPIFFE trust domain identities are derived in (`spiffe://<trust_domain>/<name>` for every service and gateway without an `identity`). A trust domain name has only lower-case letters, digits, `.`, `-` and `_`; anything else (a scheme, a path, upper case) yields identities no certificate authority issues and no peer presents.",
        "Write the domain name alone, in lower case.",
        "mesh {\n  default deny\n  trust_domain \"spiffe://Starfleet\"\n}";
    /// A fault on a mesh pair fires for every call of the pair.
    PAIR_FAULT_UNCONDITIONED = "W0360", "mesh pair fault for every call",
        "A `fault SOURCE -> TARGETS abort|delay …` line in the mesh block has no `when` condition. The destination's sidecar aborts or delays that share of *every* call of the pair, not only the test traffic of the team checking how its client copes: a chaos line left in a bundle becomes an outage between two services. Kuma's MeshFaultInjection and Istio's fault are usually scoped by a header.",
        "Scope the fault to the calls under test with `when` (e.g. `when request.headers[\"x-chaos\"] == \"on\"`), or acknowledge a deliberate one with `meshc check --allow W0360`.",
        "service picard { endpoints [\"127.0.0.1:9101\"] }\nservice riker { endpoints [\"127.0.0.1:9103\"] }\nmesh {\n  default allow\n  fault picard -> riker abort 10% 503\n}";
    /// A fault on a mesh pair the mesh always denies.
    PAIR_FAULT_NEVER_REACHED = "W0361", "mesh pair fault never reached",
        "A `fault SOURCE -> TARGET …` names a pair the mesh always refuses (an unconditional deny rule, or the default with no allow rule for the pair). The sidecar decides the permission first and injects faults only into allowed calls, so every call is answered 403 and the fault never fires, although the program reads as if the pair were being tested.",
        "Allow the pair in the mesh block, or remove the fault.",
        "service picard { endpoints [\"127.0.0.1:9101\"] }\nservice data { endpoints [\"127.0.0.1:9104\"] }\nmesh {\n  default deny\n  fault picard -> data delay 10% 1s when request.headers[\"x-chaos\"] == \"on\"\n}";
}

/// Runs every mesh check.
pub fn check(program: &Program, graph: &ProgramGraph) -> Vec<Diagnostic> {
    let mut out = explicit_default::check(program);
    out.extend(denied_forward::check(program));
    out.extend(dead_allow::check(program));
    out.extend(trust_domain::check(program));
    out.extend(forwarding_cycle::check(graph));
    out.extend(identities::check(program));
    out.extend(denied_delivery::check(program));
    out.extend(pair_faults::check(program));
    out
}
