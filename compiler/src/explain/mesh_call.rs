//! `meshc explain --from NAME --request "GET http://riker/…"`: a call inside the mesh. The host
//! names the called service; the caller is a service or gateway of the program, presenting its
//! identity. The answer is the shared mesh decision ([`meshwork_bundle::mesh_policy::decide`]),
//! the function meshd's sidecars run, with each `when` evaluated against this request by the
//! same CEL environment the runtime uses.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, LazyLock};

use cel::{Context, Env, Value};
use meshwork_bundle::matcher::normalize_path;
use meshwork_bundle::mesh_policy::{
    decide, denied_by, describe_rule, on_connection, rule_names, Condition, MeshDecision,
    MeshSource, ServiceHosts,
};
use meshwork_bundle::{
    Bundle, Effect, FaultAction, MeshFault, MeshMirror, MeshRule, MtlsMode, SidecarHop,
    SourceLocation,
};

use crate::diagnostics::suggest::closest;

use super::request_line::ExplainRequest;

/// The CEL environment of request expressions, as meshd builds it: the standard library and
/// the strings extension.
static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    let _ = env.add_extension(cel::extensions::strings);
    Arc::new(env)
});

/// Why a mesh call cannot be explained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeshCallError {
    /// `--from` names no service or gateway.
    #[error("`--from {name}`: no service or gateway is named `{name}`{}", did_you_mean(.suggestion))]
    UnknownCaller {
        /// The name given.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
    },
    /// The request's host names no service.
    #[error("the request's host `{host}` names no service (a mesh call is addressed to http://SERVICE/…){}", did_you_mean(.suggestion))]
    UnknownService {
        /// The host given.
        host: String,
        /// The closest service name.
        suggestion: Option<String>,
    },
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// One call explained: who, to whom, each rule naming it with its condition's verdict, and the
/// decision.
#[derive(Debug)]
pub struct MeshCall<'b> {
    /// The caller's name.
    pub from: String,
    /// The caller's identity, if it has one.
    pub identity: Option<&'b str>,
    /// The called service.
    pub destination: String,
    /// The rules naming the call, with their condition's verdict (`None`: no condition).
    pub rules: Vec<(&'b MeshRule, Option<Condition>)>,
    /// The decision.
    pub decision: MeshDecision<'b>,
    /// The mesh's `fault` lines on this pair, with their condition's verdict (`None`: no
    /// condition); the sidecar draws them only for an allowed call.
    pub faults: Vec<(&'b MeshFault, Option<Condition>)>,
    /// The mesh's `mirror` lines on this pair; the caller's sidecar copies the call.
    pub mirrors: Vec<&'b MeshMirror>,
    /// The called service speaks tcp: the call is a connection, without a request.
    pub tcp: bool,
}

/// Decides the call `request` from `from`, as a sidecar would; its host names a service as
/// `hosts` reads it (the sidecar's DNS search domains).
pub fn decide_call<'b>(
    bundle: &'b Bundle,
    request: &ExplainRequest,
    from: &str,
    hosts: &ServiceHosts,
) -> Result<MeshCall<'b>, MeshCallError> {
    let identity = caller_identity(bundle, from)?;
    let named = hosts.resolve(&request.host, |name| {
        bundle.services.iter().find(|s| s.name == name)
    });
    let Some(destination) = named.map(|service| &service.name) else {
        return Err(MeshCallError::UnknownService {
            host: request.host.clone(),
            suggestion: closest(
                &request.host,
                bundle.services.iter().map(|s| s.name.as_str()),
            )
            .map(str::to_string),
        });
    };
    // A tcp service is called by a connection, which has no request: its sidecar decides with
    // every condition failing closed, and draws no fault and makes no copy.
    let tcp = named.is_some_and(|service| service.protocol.is_tcp());
    let source = MeshSource::member(from, identity);
    let conditions = RequestConditions::new(request, from, identity);
    let evaluate = |index: usize, rule: &MeshRule, cel: &str| match tcp {
        true => on_connection(index, rule),
        false => conditions.evaluate(cel),
    };
    let mut verdicts: HashMap<usize, Condition> = HashMap::new();
    let decision = decide(&bundle.mesh, &source, destination, |index, rule| {
        let verdict = rule
            .when
            .as_deref()
            .map_or(Condition::Holds, |cel| evaluate(index, rule, cel));
        verdicts.insert(index, verdict.clone());
        verdict
    });
    // Every rule naming the call is listed, with its verdict (evaluated here when the decision
    // did not need it, so the reader sees why each rule did or did not apply).
    let rules = bundle
        .mesh
        .rules
        .iter()
        .enumerate()
        .filter(|(_, rule)| rule_names(rule, &source, destination))
        .map(|(index, rule)| {
            let verdict = rule.when.as_deref().map(|cel| {
                verdicts
                    .remove(&index)
                    .unwrap_or_else(|| evaluate(index, rule, cel))
            });
            (rule, verdict)
        })
        .collect();
    let faults = bundle
        .mesh
        .faults
        .iter()
        .filter(|fault| !tcp && fault.covers(Some(from), destination))
        .map(|fault| {
            let verdict = fault.when.as_deref().map(|cel| conditions.evaluate(cel));
            (fault, verdict)
        })
        .collect();
    let mirrors = bundle
        .mesh
        .mirrors
        .iter()
        .filter(|mirror| !tcp && mirror.covers(from, destination))
        .collect();
    Ok(MeshCall {
        from: from.to_string(),
        identity,
        destination: destination.clone(),
        rules,
        decision,
        faults,
        mirrors,
        tcp,
    })
}

fn caller_identity<'b>(bundle: &'b Bundle, from: &str) -> Result<Option<&'b str>, MeshCallError> {
    if let Some(service) = bundle.services.iter().find(|s| s.name == from) {
        return Ok(service.identity.as_deref());
    }
    if let Some(gateway) = bundle.gateways.iter().find(|g| g.name == from) {
        return Ok(gateway.identity.as_deref());
    }
    let names = bundle
        .services
        .iter()
        .map(|s| s.name.as_str())
        .chain(bundle.gateways.iter().map(|g| g.name.as_str()));
    Err(MeshCallError::UnknownCaller {
        name: from.to_string(),
        suggestion: closest(from, names).map(str::to_string),
    })
}

/// The explanation of a call as text.
pub fn render_call(out: &mut String, bundle: &Bundle, call: &MeshCall<'_>) {
    let _ = writeln!(out, "mesh call `{}` → `{}`", call.from, call.destination);
    let _ = writeln!(
        out,
        "  caller: `{}`, {}",
        call.from,
        match call.identity {
            Some(identity) => format!("identity {identity} (from its certificate's URI SAN)"),
            None => "no identity (give it `identity` or set the mesh's `trust_domain`)".to_string(),
        }
    );
    if let Some(service) = bundle.services.iter().find(|s| s.name == call.destination) {
        let _ = writeln!(
            out,
            "  called: `{}`, {}; its sidecars listen on {}",
            service.name,
            service
                .identity
                .as_deref()
                .map_or("no identity".to_string(), |id| format!("identity {id}")),
            service.endpoints.join(", ")
        );
        if call.tcp {
            let _ = writeln!(
                out,
                "  `{}` speaks tcp: the call is a connection (through the caller's sidecar's `--tcp` listener), decided by the caller's identity alone; a `when` cannot be read and fails closed",
                service.name
            );
        } else if service.protocol.is_http2() {
            let _ = writeln!(out, "  between the sidecars: HTTP/2, as the service speaks");
        } else {
            let hop = match bundle.mesh.between_sidecars {
                SidecarHop::H2 => "HTTP/2, a stream of a multiplexed connection (`between_sidecars h2`, the default); the called sidecar speaks HTTP/1.1 to its app",
                SidecarHop::Http1 => "HTTP/1.1, a kept-alive connection per call in flight (`between_sidecars http1`)",
            };
            let _ = writeln!(out, "  between the sidecars: {hop}");
        }
    }
    let mtls = match bundle.mesh.mtls {
        MtlsMode::Strict => "strict: the call must come over mutual TLS with the caller's certificate; plaintext is refused at the connection",
        MtlsMode::Permissive => "permissive: over mutual TLS the caller is known by its certificate; a plaintext call is judged as unauthenticated (only rules from `*` and the default apply)",
    };
    let _ = writeln!(out, "  mTLS {mtls}");
    if call.rules.is_empty() {
        let _ = writeln!(out, "  no rule names this call");
    } else {
        let _ = writeln!(out, "  rules naming this call (deny beats allow):");
        for (rule, verdict) in &call.rules {
            let verdict = match verdict {
                None => String::new(),
                Some(Condition::Holds) => "  → condition holds".to_string(),
                Some(Condition::Fails) => "  → condition is false".to_string(),
                Some(Condition::Error(why)) => format!(
                    "  → condition cannot be evaluated ({why}): {}",
                    if rule.effect == Effect::Deny {
                        "the deny applies"
                    } else {
                        "the allow does not apply"
                    }
                ),
            };
            let _ = writeln!(
                out,
                "    {}  {}{verdict}",
                at(&rule.source),
                describe_rule(rule)
            );
        }
    }
    let verdict = match (call.decision.effect, call.tcp) {
        (Effect::Allow, false) => "ALLOWED: the sidecar forwards it to the service",
        (Effect::Deny, false) => "DENIED: the sidecar answers 403",
        (Effect::Allow, true) => "ALLOWED: the sidecar pipes the connection to the service",
        (Effect::Deny, true) => {
            "DENIED: the sidecar closes the connection before a byte reaches the service"
        }
    };
    let _ = writeln!(out, "  {verdict}");
    let _ = writeln!(
        out,
        "  decided by {}",
        denied_by(&call.decision, &call.destination)
    );
    render_faults(out, call);
    render_mirrors(out, call);
}

/// The pair's mirrors: where `from`'s sidecar copies the call, fire and forget.
fn render_mirrors(out: &mut String, call: &MeshCall<'_>) {
    if call.mirrors.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  mirrors on this pair (copied by `{}`'s sidecar, fire and forget; the answer is the primary's):",
        call.from
    );
    for mirror in &call.mirrors {
        let copy = &mirror.mirror;
        let to = match mirror.to.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let _ = writeln!(
            out,
            "    {}  mirror {} -> {to} to {}  → {}% of calls copied to `{}` (Host `{}-shadow`; bodies up to {} bytes; at most {} in flight)",
            at(&mirror.source),
            mirror.from,
            copy.service,
            copy.percent,
            copy.service,
            call.destination,
            copy.max_body_bytes,
            copy.queue
        );
    }
}

/// The pair's faults: what the sidecar would inject into this call, and how often.
fn render_faults(out: &mut String, call: &MeshCall<'_>) {
    if call.faults.is_empty() {
        return;
    }
    let allowed = call.decision.effect == Effect::Allow;
    let _ = writeln!(
        out,
        "  faults on this pair (drawn by `{}`'s sidecar for an allowed call; delays first, then aborts){}:",
        call.destination,
        if allowed { "" } else { ", never reached: the call is denied first" }
    );
    for (fault, verdict) in &call.faults {
        let effect = match fault.action {
            FaultAction::Abort { status } => {
                format!("answered {status} without reaching the service")
            }
            FaultAction::Delay { delay_ms } => format!("held {delay_ms}ms, then forwarded"),
        };
        let verdict = match verdict {
            None | Some(Condition::Holds) if allowed => {
                format!("  → {}% of such calls are {effect}", fault.percent)
            }
            None | Some(Condition::Holds) => String::new(),
            Some(Condition::Fails) => "  → condition is false: not faulted".to_string(),
            Some(Condition::Error(why)) => {
                format!("  → condition cannot be evaluated ({why}): not faulted")
            }
        };
        let _ = writeln!(
            out,
            "    {}  {}{verdict}",
            at(&fault.source),
            describe_fault(fault)
        );
    }
}

/// A pair fault as written: `fault picard -> riker abort 10% 503 when …`.
fn describe_fault(fault: &MeshFault) -> String {
    let to = match fault.to.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let action = match fault.action {
        FaultAction::Abort { status } => format!("abort {}% {status}", fault.percent),
        FaultAction::Delay { delay_ms } => format!("delay {}% {delay_ms}ms", fault.percent),
    };
    let when = fault
        .when
        .as_deref()
        .map(|w| format!(" when {w}"))
        .unwrap_or_default();
    format!("fault {} -> {to} {action}{when}", fault.from)
}

fn at(location: &SourceLocation) -> String {
    format!("{}:{}:{}", location.file, location.line, location.column)
}

/// The variables a mesh `when` sees, filled from the request: `request.*` and `source.*`.
struct RequestConditions {
    context: Context<'static, 'static>,
}

impl RequestConditions {
    fn new(request: &ExplainRequest, from: &str, identity: Option<&str>) -> Self {
        let path = normalize_path(&request.path)
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| request.path.clone());
        let mut headers: HashMap<String, Value> = HashMap::new();
        for (name, value) in &request.headers {
            let joined = match headers.remove(name) {
                Some(Value::String(earlier)) => format!("{earlier}, {value}"),
                _ => value.clone(),
            };
            headers.insert(name.to_ascii_lowercase(), Value::from(joined));
        }
        let mut query: HashMap<String, Value> = HashMap::new();
        for pair in request.query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            query
                .entry(percent_decoded(name))
                .or_insert_with(|| Value::from(percent_decoded(value)));
        }
        let fields: HashMap<String, Value> = HashMap::from([
            ("method".to_string(), Value::from(request.method.clone())),
            ("path".to_string(), Value::from(path)),
            ("host".to_string(), Value::from(request.host.clone())),
            ("headers".to_string(), Value::from(headers)),
            ("query".to_string(), Value::from(query)),
            (
                "params".to_string(),
                Value::from(HashMap::<String, Value>::new()),
            ),
            ("remote_addr".to_string(), Value::from("127.0.0.1")),
        ]);
        let source: HashMap<String, Value> = HashMap::from([
            ("service".to_string(), Value::from(from.to_string())),
            (
                "identity".to_string(),
                Value::from(identity.unwrap_or("").to_string()),
            ),
        ]);
        let mut context = Context::with_env(Arc::clone(&ENV));
        context.add_variable_from_value("request", fields);
        context.add_variable_from_value("source", source);
        RequestConditions { context }
    }

    fn evaluate(&self, cel: &str) -> Condition {
        let program = match ENV.compile(cel) {
            Ok(program) => program,
            Err(error) => return Condition::Error(error.to_string().replace('\n', "; ")),
        };
        match program.execute(&self.context) {
            Ok(Value::Bool(true)) => Condition::Holds,
            Ok(Value::Bool(false)) => Condition::Fails,
            Ok(other) => Condition::Error(format!(
                "the condition is a {:?}, not a bool",
                other.type_of()
            )),
            Err(error) => Condition::Error(error.to_string()),
        }
    }
}

/// `%XX` escapes decoded; a malformed escape is kept as written.
fn percent_decoded(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
