//! The answers of `meshc who-can` as text for people.

use std::fmt::Write;

use super::answer::{Answer, IndirectReach, MeshCaller, RouteReach, StreamReach};

/// Renders `answer` (ends with a newline).
pub fn render_human(answer: &Answer) -> String {
    let mut out = String::new();
    match answer {
        Answer::ReachService {
            service,
            routes,
            mesh,
            streams,
            indirect,
        } => {
            let _ = writeln!(out, "who can reach service `{service}`");
            section(&mut out, "through gateway routes", routes.is_empty());
            for route in routes {
                render_route(&mut out, route);
            }
            section(
                &mut out,
                "through the mesh (callers it lets in)",
                mesh.is_empty(),
            );
            for caller in mesh {
                let _ = writeln!(out, "  {}", describe_caller(caller));
            }
            section(
                &mut out,
                "through streams (records delivered)",
                streams.is_empty(),
            );
            for stream in streams {
                render_stream(&mut out, stream);
            }
            section(
                &mut out,
                "indirectly (routes to a service the mesh lets call it)",
                indirect.is_empty(),
            );
            for reach in indirect {
                render_indirect(&mut out, service, reach);
            }
        }
        Answer::ReachRoute { route } => {
            let _ = writeln!(
                out,
                "who can reach route `{}/{}`",
                route.gateway, route.route
            );
            out.push('\n');
            render_route(&mut out, route);
        }
        Answer::Produce {
            topic,
            external,
            routes,
            streams,
        } => {
            let _ = writeln!(out, "who can produce to topic `{topic}`");
            if *external {
                let _ = writeln!(
                    out,
                    "  (the topic is marked `external`: clients outside this program write it too)"
                );
            }
            section(&mut out, "through gateway routes", routes.is_empty());
            for route in routes {
                render_route(&mut out, route);
            }
            section(&mut out, "through streams", streams.is_empty());
            for stream in streams {
                render_stream(&mut out, stream);
            }
        }
        Answer::Consume {
            topic,
            streams,
            routes,
        } => {
            let _ = writeln!(out, "who consumes topic `{topic}`");
            section(&mut out, "streams", streams.is_empty());
            for stream in streams {
                render_stream(&mut out, stream);
            }
            if !routes.is_empty() {
                section(&mut out, "routes serving it to HTTP clients", false);
                for route in routes {
                    render_route(&mut out, route);
                }
            }
        }
    }
    out
}

fn section(out: &mut String, title: &str, empty: bool) {
    let _ = writeln!(out, "\n{title}:{}", if empty { " none" } else { "" });
}

fn describe_caller(caller: &MeshCaller) -> String {
    format!(
        "{} `{}` → `{}`: {}{}",
        caller.kind,
        caller.name,
        caller.service,
        caller.verdict,
        caller
            .rule
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    )
}

fn callers(route: &RouteReach) -> String {
    if route.anyone {
        "anyone (no credentials needed)".to_string()
    } else if route.consumers.is_empty() {
        format!(
            "nobody ({} and no consumer passes the access rules)",
            route.auth
        )
    } else {
        format!("{} ({})", route.consumers.join(", "), route.auth)
    }
}

fn render_route(out: &mut String, route: &RouteReach) {
    let _ = writeln!(
        out,
        "  {}/{}  {}  ({})",
        route.gateway, route.route, route.matcher, route.source
    );
    let _ = writeln!(out, "    callers: {}", callers(route));
    if !route.only.is_empty() {
        let _ = writeln!(out, "    only: {}", route.only.join("; "));
    }
    if let Some(share) = route.share {
        if share < 100 {
            let _ = writeln!(out, "    share: {share}% of the route's requests");
        }
    }
    if let Some(param) = &route.topic_param {
        let _ = writeln!(out, "    topic: named by path parameter `{param}`");
    }
    if let Some(mesh) = &route.mesh {
        let _ = writeln!(out, "    mesh: {}", describe_caller(mesh));
    }
    if !route.listeners.is_empty() {
        let _ = writeln!(out, "    listening on: {}", route.listeners.join(", "));
    }
}

fn render_stream(out: &mut String, stream: &StreamReach) {
    let _ = writeln!(
        out,
        "  stream `{}` {} records of `{}` (group {})  ({})",
        stream.stream, stream.role, stream.from, stream.group, stream.source
    );
    if let Some(when) = &stream.when {
        let _ = writeln!(out, "    when {when}");
    }
    if let Some(to) = &stream.to {
        let _ = writeln!(out, "    to topic `{to}`");
    }
    if let Some(deliver) = &stream.deliver {
        let _ = writeln!(out, "    delivers to {deliver}");
    }
    if let Some(dead_letter) = &stream.dead_letter {
        let _ = writeln!(out, "    dead letters to `{dead_letter}`");
    }
    if stream.fed_by.is_empty() && stream.fed_by_streams.is_empty() {
        let _ = writeln!(
            out,
            "    `{}` is written by no route or stream of this program",
            stream.from
        );
    }
    for route in &stream.fed_by {
        let _ = writeln!(
            out,
            "    fed by route {}/{}{}: {}{}",
            route.gateway,
            route.route,
            route
                .topic_param
                .as_ref()
                .map(|p| format!(" (topic named by `{p}`)"))
                .unwrap_or_default(),
            callers(route),
            if route.only.is_empty() {
                String::new()
            } else {
                format!("; only {}", route.only.join("; "))
            }
        );
    }
    if stream.from_external {
        let _ = writeln!(
            out,
            "    `{}` is also written outside this program (external)",
            stream.from
        );
    }
    for upstream in &stream.fed_by_streams {
        let _ = writeln!(out, "    fed by stream `{upstream}`");
    }
}

fn render_indirect(out: &mut String, service: &str, reach: &IndirectReach) {
    let route = &reach.route;
    let chain = reach
        .through
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(" → ");
    let _ = writeln!(
        out,
        "  {}/{} → {chain} → `{service}`  ({})",
        route.gateway, route.route, route.source
    );
    let _ = writeln!(out, "    callers: {}", callers(route));
    if !route.only.is_empty() {
        let _ = writeln!(out, "    only: {}", route.only.join("; "));
    }
    for verdict in &reach.mesh {
        let _ = writeln!(out, "    mesh: {}", describe_caller(verdict));
    }
}
