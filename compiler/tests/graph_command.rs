//! `meshc graph`: the DOT output parses as one directed graph whose edges join declared nodes,
//! with deny edges dashed; the Mermaid output is a flowchart; a broken program draws nothing.

mod scratch;
use scratch::Scratch;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn meshc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("meshc runs")
}

fn program_dir(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("graph-{name}"));
    std::fs::write(
        dir.join("fleet.mesh"),
        r#"gateway edge {
  listen "127.0.0.1:8080"
  consumer picard { key env("PICARD_KEY") groups [captains] }
  route officers { match GET "/officers/{id}" auth key header "x-api-key" allow groups [captains] forward picard 80%, riker }
  route log { match POST "/log" auth key header "x-api-key" produce topic "captains-log" }
}
service picard { endpoints ["127.0.0.1:9101"] }
service riker { endpoints ["127.0.0.1:9103"] }
mesh {
  default deny
  allow edge -> [picard, riker]
  deny picard -> riker
}
stream red_alerts { from topic "captains-log" when event.value.severity == "red" to topic "red-alerts" dead_letter "captains-log-dlq" }
"#,
    )
    .expect("write");
    dir
}

/// DOT tokens: quoted strings (escapes kept), identifiers, and punctuation.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' => {
                let mut s = String::from('"');
                loop {
                    match chars.next().expect("string closed") {
                        '\\' => {
                            s.push('\\');
                            s.push(chars.next().expect("escape completed"));
                        }
                        '"' => break,
                        c => s.push(c),
                    }
                }
                s.push('"');
                out.push(s);
            }
            '-' if chars.peek() == Some(&'>') => {
                chars.next();
                out.push("->".to_string());
            }
            '{' | '}' | '[' | ']' | ';' | '=' | ',' => out.push(c.to_string()),
            c if c.is_ascii_alphanumeric() || c == '_' || c == '#' => {
                let mut s = c.to_string();
                while let Some(n) = chars
                    .peek()
                    .filter(|n| n.is_ascii_alphanumeric() || **n == '_' || **n == '.')
                {
                    s.push(*n);
                    chars.next();
                }
                out.push(s);
            }
            other => panic!("unexpected character {other:?} in DOT output"),
        }
    }
    out
}

/// `(key, value)` attributes of a statement.
type Attributes = Vec<(String, String)>;

/// A parsed DOT graph: node ids, and edges as (from, to, attributes).
struct Dot {
    nodes: BTreeSet<String>,
    edges: Vec<(String, String, Attributes)>,
}

/// Parses `digraph ID { (attr_stmt | node_stmt | edge_stmt) ; … }` strictly.
fn parse_dot(text: &str) -> Dot {
    let tokens = tokens(text);
    let mut at = 0;
    let mut next = || {
        at += 1;
        tokens.get(at - 1).cloned().expect("more tokens")
    };
    assert_eq!(next(), "digraph");
    let _name = next();
    assert_eq!(next(), "{");
    let mut dot = Dot {
        nodes: BTreeSet::new(),
        edges: Vec::new(),
    };
    loop {
        let first = next();
        if first == "}" {
            break;
        }
        let mut second = next();
        if second == "=" {
            let _value = next();
            assert_eq!(next(), ";");
            continue;
        }
        let target = if second == "->" {
            let t = next();
            second = next();
            Some(t)
        } else {
            None
        };
        let mut attributes = Vec::new();
        if second == "[" {
            loop {
                let key = next();
                if key == "]" {
                    break;
                }
                assert_eq!(next(), "=", "attribute {key} has a value");
                attributes.push((key, next()));
                let sep = next();
                if sep == "]" {
                    break;
                }
                assert_eq!(sep, ",");
            }
            second = next();
        }
        assert_eq!(second, ";", "statement ends with `;`");
        match target {
            Some(to) => dot.edges.push((first, to, attributes)),
            None if first == "node" || first == "edge" || first == "graph" => {}
            None => {
                dot.nodes.insert(first);
            }
        }
    }
    assert_eq!(at, tokens.len(), "nothing after the closing brace");
    dot
}

#[test]
fn dot_output_is_one_digraph_whose_edges_join_declared_nodes() {
    let dir = program_dir("dot");
    let out = meshc(&["graph", "--format", "dot", "fleet.mesh"], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let dot = parse_dot(&text);
    for (from, to, _) in &dot.edges {
        assert!(
            dot.nodes.contains(from) && dot.nodes.contains(to),
            "edge {from} -> {to} joins declared nodes"
        );
    }
    for id in [
        "\"gateway:edge\"",
        "\"route:edge/officers\"",
        "\"service:picard\"",
        "\"topic:captains-log\"",
        "\"stream:red_alerts\"",
        "\"group:edge/captains\"",
    ] {
        assert!(dot.nodes.contains(id), "{id} drawn");
    }
    let edge = |from: &str, to: &str| {
        dot.edges
            .iter()
            .find(|(f, t, _)| f == from && t == to)
            .map(|(_, _, a)| a.clone())
    };
    let split = edge("\"route:edge/officers\"", "\"service:picard\"").expect("forward drawn");
    assert!(
        split.contains(&("label".to_string(), "\"forwards 80%\"".to_string())),
        "{split:?}"
    );
    let deny = edge("\"service:picard\"", "\"service:riker\"").expect("mesh deny drawn");
    assert!(
        deny.contains(&("style".to_string(), "dashed".to_string())),
        "denied mesh edges are dashed: {deny:?}"
    );
    let allow = edge("\"gateway:edge\"", "\"service:picard\"").expect("mesh allow drawn");
    assert!(
        !allow.iter().any(|(k, _)| k == "style"),
        "allowed edges are solid"
    );
    let colours: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.split("fillcolor=").nth(1))
        .collect();
    assert!(
        colours.len() >= 6,
        "nodes are coloured by kind: {colours:?}"
    );
}

#[test]
fn mermaid_output_is_a_flowchart_with_dotted_denies() {
    let dir = program_dir("mermaid");
    let out = meshc(&["graph", "--format", "mermaid", "fleet.mesh"], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(text.starts_with("flowchart"), "{text}");
    assert!(text.contains("-.->|\"denies\"|"), "{text}");
    assert!(text.contains("classDef stream fill:"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("[\"topic: captains-log\"]:::topic")),
        "{text}"
    );
}

#[test]
fn a_program_with_errors_draws_nothing_and_exits_1() {
    let dir = program_dir("broken");
    std::fs::write(dir.join("broken.mesh"), "gateway g {\n  listen \"127.0.0.1:9\"\n  route r { match GET \"/\" public forward nowhere }\n}\n").expect("write");
    let out = meshc(&["graph", "broken.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("E0100"));
}
