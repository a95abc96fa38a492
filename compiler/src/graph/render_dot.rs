//! The graph in Graphviz DOT: one box per node coloured by kind, one arrow per edge labelled
//! with its kind; deny edges dashed and red. `meshc graph --format dot | dot -Tsvg > graph.svg`.

use meshwork_bundle::{EdgeKind, Graph, NodeKind};

/// The fill colour of each kind of node (shared with the Mermaid renderer).
pub fn node_colour(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Gateway => "#f4a261",
        NodeKind::Listener => "#ffd6a5",
        NodeKind::Route => "#e9c46a",
        NodeKind::Consumer => "#caffbf",
        NodeKind::Group => "#9bf6ff",
        NodeKind::Service => "#a0c4ff",
        NodeKind::Endpoint => "#d0e4ff",
        NodeKind::Topic => "#bdb2ff",
        NodeKind::Stream => "#ffc6ff",
    }
}

/// Renders the graph as one `digraph`.
pub fn render_dot(graph: &Graph) -> String {
    let mut out = String::from("digraph meshwork {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for node in &graph.nodes {
        out.push_str(&format!(
            "  {} [label={}, fillcolor=\"{}\"];\n",
            quote(&node.id),
            quote(&format!("{}\n{}", node.kind.as_str(), node.name)),
            node_colour(node.kind)
        ));
    }
    for node in &graph.nodes {
        for edge in &node.edges {
            let label = match &edge.label {
                Some(label) => format!("{} {label}", edge.kind.as_str()),
                None => edge.kind.as_str().to_string(),
            };
            let style = if edge.kind == EdgeKind::Denies {
                ", style=dashed, color=\"#d62828\", fontcolor=\"#d62828\""
            } else {
                ""
            };
            out.push_str(&format!(
                "  {} -> {} [label={}{style}];\n",
                quote(&node.id),
                quote(&edge.to),
                quote(&label)
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// A DOT double-quoted string (`"` and `\` escaped; newlines as `\n`).
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_escape_quotes_backslashes_and_newlines() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
