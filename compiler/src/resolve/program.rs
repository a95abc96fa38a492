//! The whole program as one view over every parsed file: the declarations of each kind in a
//! deterministic order (by file path, then position) and their names, which every later stage reads.

use crate::source::{FileId, SourceMap, Span, Spanned};
use crate::syntax::ast;
use crate::topic_schema::TopicSchemas;

use super::symbols::Symbols;

/// Every declaration of the program, borrowed from the parsed files.
pub struct Program<'a> {
    pub sources: &'a SourceMap,
    pub gateways: Vec<&'a ast::Gateway>,
    pub services: Vec<&'a ast::Service>,
    pub meshes: Vec<&'a ast::Mesh>,
    pub streams: Vec<&'a ast::Stream>,
    pub topics: Vec<&'a ast::Topic>,
    /// The names of everything above.
    pub symbols: Symbols<'a>,
    /// The JSON Schemas topics name, parsed and compiled.
    pub schemas: TopicSchemas,
}

impl<'a> Program<'a> {
    /// Collects the declarations of `files` (which the loader sorted by path).
    pub fn new(sources: &'a SourceMap, files: &'a [(FileId, ast::File)]) -> Self {
        let mut ordered: Vec<&(FileId, ast::File)> = files.iter().collect();
        ordered.sort_by(|(a, _), (b, _)| sources.file(*a).path.cmp(&sources.file(*b).path));
        let mut program = Program {
            sources,
            gateways: vec![],
            services: vec![],
            meshes: vec![],
            streams: vec![],
            topics: vec![],
            symbols: Symbols::default(),
            schemas: TopicSchemas::default(),
        };
        for (_, file) in ordered {
            let mut items: Vec<&ast::Item> = file.items.iter().collect();
            items.sort_by_key(|item| item.span().start);
            for item in items {
                match item {
                    ast::Item::Gateway(g) => program.gateways.push(g),
                    ast::Item::Service(s) => program.services.push(s),
                    ast::Item::Mesh(m) => program.meshes.push(m),
                    ast::Item::Stream(s) => program.streams.push(s),
                    ast::Item::Topic(t) => program.topics.push(t),
                    ast::Item::Include(_) => {}
                }
            }
        }
        program.schemas = TopicSchemas::collect(sources, &program.topics);
        program.symbols = Symbols::collect(
            &program.gateways,
            &program.services,
            &program.streams,
            &program.topics,
        );
        program
    }

    /// The first service named `name`.
    pub fn service(&self, name: &str) -> Option<&'a ast::Service> {
        self.symbols.service(name)
    }

    /// The first gateway named `name`.
    pub fn gateway(&self, name: &str) -> Option<&'a ast::Gateway> {
        self.symbols
            .gateways
            .get(name)
            .and_then(|d| d.first().copied())
    }

    /// Every mesh rule of every mesh block, in program order.
    pub fn mesh_rules(&self) -> impl Iterator<Item = &'a ast::MeshRule> + '_ {
        self.meshes.iter().flat_map(|m| {
            m.statements.iter().filter_map(|s| match s {
                ast::MeshStatement::Rule(r) => Some(r),
                _ => None,
            })
        })
    }

    /// Every fault on a mesh pair, in program order.
    pub fn mesh_faults(&self) -> impl Iterator<Item = &'a ast::MeshFault> + '_ {
        self.meshes.iter().flat_map(|m| {
            m.statements.iter().filter_map(|s| match s {
                ast::MeshStatement::Fault(f) => Some(f),
                _ => None,
            })
        })
    }

    /// The mesh's default effect, if a mesh block states one.
    pub fn mesh_default(&self) -> Option<&'a Spanned<ast::Effect>> {
        self.meshes
            .iter()
            .flat_map(|m| m.statements.iter())
            .find_map(|s| match s {
                ast::MeshStatement::Default(d) => Some(d),
                _ => None,
            })
    }

    /// The mesh's trust domain, if a mesh block states one.
    pub fn mesh_trust_domain(&self) -> Option<&'a Spanned<String>> {
        self.meshes
            .iter()
            .flat_map(|m| m.statements.iter())
            .find_map(|s| match s {
                ast::MeshStatement::TrustDomain { domain, .. } => Some(domain),
                _ => None,
            })
    }

    /// Every (gateway, route) pair, in program order.
    pub fn routes(&self) -> impl Iterator<Item = (&'a ast::Gateway, &'a ast::Route)> + '_ {
        self.gateways
            .iter()
            .flat_map(|g| g.routes.iter().map(move |r| (*g, r)))
    }

    /// The span of `len` bytes at byte `offset` of a string literal's value, when the literal is
    /// written without escapes (so value and source line up); otherwise the whole literal.
    pub fn span_in_string(&self, string: &Spanned<String>, offset: usize, len: usize) -> Span {
        let raw = self.text(string.span);
        let plain = raw.len() == string.node.len() + 2
            && raw.get(1..raw.len() - 1) == Some(string.node.as_str());
        if plain && offset + len <= string.node.len() {
            let start = string.span.start as usize + 1 + offset;
            Span::new(string.span.file, start, start + len)
        } else {
            string.span
        }
    }

    /// The text a span covers.
    pub fn text(&self, span: Span) -> &'a str {
        self.sources.slice(span)
    }
}
