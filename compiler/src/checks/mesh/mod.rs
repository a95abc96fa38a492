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
pub mod pair_mirrors;
pub mod policy;
pub mod tcp_services;
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
        "The mesh says `mtls strict`, so every call between workloads is mutual TLS, and a sidecar knows its caller only by the URI SAN of its certificate, mapped to a service or gateway by identity. This service, or this gateway that forwards into the mesh, has no identity (none written, and no `trust_domain` to derive `spiffe://<trust_domain>/<name>` from): it cannot be issued a certificate its peers accept, and the calls it makes or receives are refused. A service with `protocol tcp` needs an identity whatever the mode: only the mesh carries it, and a caller's sidecar connects only to an end presenting the service's identity.",
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
    /// HTTP sent to a service that speaks plain TCP.
    HTTP_TO_TCP_SERVICE = "E0308", "HTTP to a tcp service",
        "A route forwards or mirrors to a service with `protocol tcp`, a stream delivers to one, or a mesh `mirror` copies calls to one. Only the mesh's sidecars carry TCP, as a byte stream between an app and the service inside mutual TLS: the gateway and the streams speak HTTP, which the service does not read, so every request would fail.",
        "Reach the tcp service from an app through its sidecar (`meshd sidecar --tcp SERVICE=ADDRESS`), or point the route, stream or mirror at an HTTP service.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public forward db }\n}\nservice db { endpoints [\"127.0.0.1:5432\"] protocol tcp }\nmesh {\n  default allow\n  trust_domain \"starfleet\"\n}";
    /// An HTTP setting on a service that speaks plain TCP.
    TCP_SERVICE_HTTP_SETTING = "E0309", "HTTP setting on a tcp service",
        "A service with `protocol tcp` has `timeout`, `retry`, `circuit_breaker`, `health_check` or `balance hash(…)`. Each applies to HTTP requests (a per-try deadline, a request sent again, failures counted by status, a probe path, a key read from the request), and a TCP connection carries none: the setting would silently do nothing.",
        "Remove the setting. A tcp connection lasts as long as its two ends keep it; its endpoint is picked with `balance round_robin`, `random` or `least_request`.",
        "service db {\n  endpoints [\"127.0.0.1:5432\"]\n  protocol tcp\n  retry 2\n}\nmesh {\n  default allow\n  trust_domain \"starfleet\"\n}";
    /// A request condition, fault or mirror on calls to a tcp service.
    REQUEST_RULE_ON_TCP = "E0310", "request rule on a tcp service",
        "A mesh `allow` or `deny` with a `when` condition, a `fault` or a `mirror` names a service with `protocol tcp` as its target. A call to a tcp service is a connection, allowed or refused by the caller's verified identity alone: there is no request for a condition to read, to abort, delay or copy. (A rule on `*` with `when` fails closed on tcp calls: its deny applies, its allow does not.)",
        "Write the rule without `when` for the tcp service, or leave the service out of the line.",
        "service app { endpoints [\"127.0.0.1:9101\"] }\nservice db { endpoints [\"127.0.0.1:5432\"] protocol tcp }\nmesh {\n  default deny\n  trust_domain \"starfleet\"\n  allow app -> db when request.method == \"GET\"\n}";
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
    /// A mesh mirror whose caller is a gateway.
    PAIR_MIRROR_FROM_GATEWAY = "E0362", "mesh mirror from a gateway",
        "A `mirror SOURCE -> TARGETS to SERVICE` line names a gateway as its caller. Mesh mirrors are made by the caller's outbound sidecar, and a gateway has none: its copies are made by its routes. The line would copy nothing.",
        "Put `mirror SERVICE [P%]` on the gateway's route that forwards to the target instead.",
        "gateway edge { listen \"127.0.0.1:8080\" }\nservice riker { endpoints [\"127.0.0.1:9103\"] }\nservice riker_v2 { endpoints [\"127.0.0.1:9105\"] }\nmesh {\n  default allow\n  mirror edge -> riker to riker_v2 10%\n}";
    /// A mesh mirror to one of the services it copies.
    PAIR_MIRROR_OF_TARGET = "W0362", "mesh mirror to its own target",
        "A mesh mirror copies calls to a service that is also one of the pair's targets. That service receives each copied call twice, once answered and once dropped, doubling the writes and the load on the service its callers depend on. Mirroring is for showing a second service (a new version) real traffic. (The route form is W0253.)",
        "Mirror to the new version, not to the service being called.",
        "service picard { endpoints [\"127.0.0.1:9101\"] }\nservice riker { endpoints [\"127.0.0.1:9103\"] }\nmesh {\n  default allow\n  mirror picard -> riker to riker 10%\n}";
    /// A mesh mirror the mesh refuses to its caller.
    PAIR_MIRROR_DENIED = "W0363", "mesh mirror denied by the mesh",
        "A mesh mirror copies a caller's calls to a service the mesh policy denies to that caller (a deny rule applies, or no rule allows the call under `default deny`). The copies go out with the caller's identity, so every one is refused with 403 at the mirror's sidecar, and since copies are fire and forget nobody sees it: the new version just looks idle. (The route form is W0254.)",
        "Allow the caller to call the mirror service in the mesh block, or remove the mirror.",
        "service picard { endpoints [\"127.0.0.1:9101\"] }\nservice riker { endpoints [\"127.0.0.1:9103\"] }\nservice riker_v2 { endpoints [\"127.0.0.1:9105\"] }\nmesh {\n  default deny\n  allow picard -> riker\n  mirror picard -> riker to riker_v2 10%\n}";
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
    out.extend(pair_mirrors::check(program));
    out.extend(tcp_services::check(program));
    out
}
