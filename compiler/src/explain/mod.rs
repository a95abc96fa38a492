//! `meshc explain`: for one request, which route wins and why (each precedence step that ranked
//! it before every other matching route), which admission steps run in order, and where the
//! request goes. Route matching is the shared matcher of the bundle crate, so the answer is
//! the runtime's. With `--from`, the request is a call inside the mesh, decided by the bundle
//! crate's mesh decision ([`mesh_call`]), the one meshd's sidecars run.

pub mod destination;
pub mod mesh_call;
pub mod render;
pub mod request_line;
pub mod route_choice;
pub mod time_budget;

use crate::pipeline::Compilation;
use crate::resolve::Program;
use meshwork_bundle::mesh_policy::ServiceHosts;

pub use mesh_call::MeshCallError;
pub use request_line::{ExplainRequest, RequestLineError};

/// The explanation as text, or `None` when the program has errors (there is no bundle to ask).
pub fn explain(compilation: &Compilation, request: &ExplainRequest) -> Option<String> {
    let bundle = compilation.bundle.as_ref()?;
    let program = Program::new(&compilation.sources, &compilation.files);
    let mut out = format!(
        "request {} {}{}{}\n",
        request.method,
        if request.host.is_empty() {
            String::new()
        } else {
            format!("host \"{}\" ", request.host)
        },
        request.path,
        if request.query.is_empty() {
            String::new()
        } else {
            format!("?{}", request.query)
        }
    );
    let gateways = route_choice::gateways_for(&bundle.gateways, request);
    if gateways.is_empty() {
        out.push_str("the program has no gateway\n");
    }
    for gateway in gateways {
        out.push('\n');
        let choice = route_choice::choose_route(gateway, request);
        render::render_gateway(&mut out, &program, bundle, gateway, request, &choice);
    }
    Some(out)
}

/// A call inside the mesh from `from` (a service or gateway) explained as text; `None` when the
/// program has errors.
pub fn explain_call(
    compilation: &Compilation,
    request: &ExplainRequest,
    from: &str,
    hosts: &ServiceHosts,
) -> Option<Result<String, MeshCallError>> {
    let bundle = compilation.bundle.as_ref()?;
    Some(
        mesh_call::decide_call(bundle, request, from, hosts).map(|call| {
            let mut out = format!(
                "request {} http://{}{}\n",
                request.method, request.host, request.path
            );
            if !request.query.is_empty() {
                out.pop();
                out.push_str(&format!("?{}\n", request.query));
            }
            mesh_call::render_call(&mut out, bundle, &call);
            out
        }),
    )
}
