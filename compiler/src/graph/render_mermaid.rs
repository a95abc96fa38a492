//! The graph as a Mermaid flowchart, which GitHub renders inside Markdown: one node per graph
//! node (class per kind, coloured as in DOT), one arrow per edge; deny edges dotted.

use std::collections::HashMap;

use meshwork_bundle::{EdgeKind, Graph, NodeKind};

use super::render_dot::node_colour;

const KINDS: [NodeKind; 9] = [
    NodeKind::Gateway,
    NodeKind::Listener,
    NodeKind::Route,
    NodeKind::Consumer,
    NodeKind::Group,
    NodeKind::Service,
    NodeKind::Endpoint,
    NodeKind::Topic,
    NodeKind::Stream,
];

/// Renders the graph as a `flowchart LR`.
pub fn render_mermaid(graph: &Graph) -> String {
    // Mermaid ids must be plain words; node ids contain `:` and `/`, so number them.
    let short: HashMap<&str, String> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), format!("n{i}")))
        .collect();
    let mut out = String::from("flowchart LR\n");
    for node in &graph.nodes {
        out.push_str(&format!(
            "  {}[\"{}: {}\"]:::{}\n",
            short[node.id.as_str()],
            node.kind.as_str(),
            escape(&node.name),
            node.kind.as_str()
        ));
    }
    for node in &graph.nodes {
        for edge in &node.edges {
            let Some(to) = short.get(edge.to.as_str()) else {
                continue;
            };
            let label = match &edge.label {
                Some(label) => format!("{} {}", edge.kind.as_str(), escape(label)),
                None => edge.kind.as_str().to_string(),
            };
            let arrow = if edge.kind == EdgeKind::Denies {
                format!("-.->|\"{label}\"|")
            } else {
                format!("-->|\"{label}\"|")
            };
            out.push_str(&format!("  {} {arrow} {to}\n", short[node.id.as_str()]));
        }
    }
    for kind in KINDS {
        out.push_str(&format!(
            "  classDef {} fill:{},stroke:#333\n",
            kind.as_str(),
            node_colour(kind)
        ));
    }
    out
}

/// Mermaid labels are quoted; quotes and angle brackets become entity codes.
fn escape(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escape_quotes() {
        assert_eq!(escape("a == \"b\""), "a == #quot;b#quot;");
    }
}
