//! Name resolution: every reference names something that exists; no name is defined twice.
//! Checks later in the pipeline look names up in [`Program::symbols`] and skip what did not
//! resolve, so one misspelling is reported once, here.

pub mod duplicates;
pub mod path_params;
pub mod program;
pub mod references;
pub mod route_match;
pub mod socket_address;
pub mod symbols;
pub mod traffic_split;

pub use program::Program;
pub use symbols::Symbols;

use crate::diagnostics::Diagnostic;

crate::diagnostics::codes::codes! {
    /// A reference names nothing the program defines.
    UNDEFINED_NAME = "E0100", "undefined name",
        "A `forward`, `deliver`, mesh rule or access rule names a service, gateway, consumer or group that no declaration defines. At run time the request would have nowhere to go (or nobody could ever match the rule), so the compiler refuses it. The help line suggests the closest defined name.",
        "Fix the spelling, or declare what the reference names. Consumers and groups are local to their gateway.",
        "gateway edge {\n  listen \"127.0.0.1:8080\"\n  route r { match GET \"/\" public forward pikard }\n}\nservice picard { endpoints [\"127.0.0.1:9101\"] }";
    /// A name is defined twice.
    DUPLICATE_DEFINITION = "E0101", "duplicate definition",
        "Two declarations define the same gateway, service, stream or topic, two routes or consumers of one gateway share a name, a gateway and a service share a name (mesh rules could not tell them apart), or two mesh blocks each set the default or mTLS mode. Which one is meant is unclear, so neither is guessed. Both definitions are shown.",
        "Rename or remove one of them; put one gateway's routes in one `gateway` block.",
        "service picard { endpoints [\"127.0.0.1:9101\"] }\nservice picard { endpoints [\"127.0.0.1:9102\"] }";
    /// A path parameter is used that the route's path does not capture.
    UNKNOWN_PATH_PARAMETER = "E0102", "unknown path parameter",
        "`produce topic param \"…\"`, a `rewrite` template and `request.params.…` read a `{name}` captured by the route's path template. This name is not captured, so the value would always be missing.",
        "Use one of the parameters the path captures, or capture it: `match GET \"/ships/{ship}\"`.",
        "route r { match POST \"/log\" auth key header \"x-api-key\" produce topic param \"ship\" allow [\"log\"] }";
}

/// Reports undefined names, duplicates and unknown path parameters.
pub fn check_names(program: &Program) -> Vec<Diagnostic> {
    let mut diagnostics = duplicates::check(program);
    diagnostics.extend(references::check(program));
    diagnostics.extend(path_params::check(program));
    diagnostics
}
