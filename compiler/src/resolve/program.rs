//! The whole program as one view over every parsed file: the declarations of each kind in a
//! deterministic order (by file path, then position), which every later stage reads.

use crate::source::{FileId, SourceMap};
use crate::syntax::ast;

/// Every declaration of the program, borrowed from the parsed files.
pub struct Program<'a> {
    pub sources: &'a SourceMap,
    pub gateways: Vec<&'a ast::Gateway>,
    pub services: Vec<&'a ast::Service>,
    pub meshes: Vec<&'a ast::Mesh>,
    pub streams: Vec<&'a ast::Stream>,
    pub topics: Vec<&'a ast::Topic>,
}

impl<'a> Program<'a> {
    /// Collects the declarations of `files` (which the loader sorted by path).
    pub fn new(sources: &'a SourceMap, files: &'a [(FileId, ast::File)]) -> Self {
        let mut program = Program { sources, gateways: vec![], services: vec![], meshes: vec![], streams: vec![], topics: vec![] };
        for (_, file) in files {
            for item in &file.items {
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
        program
    }

    /// The first service named `name`.
    pub fn service(&self, name: &str) -> Option<&'a ast::Service> {
        self.services.iter().copied().find(|s| s.name.node == name)
    }

    /// The first gateway named `name`.
    pub fn gateway(&self, name: &str) -> Option<&'a ast::Gateway> {
        self.gateways.iter().copied().find(|g| g.name.node == name)
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

    /// The mesh's default effect, if a mesh block states one.
    pub fn mesh_default(&self) -> Option<&'a crate::source::Spanned<ast::Effect>> {
        self.meshes.iter().flat_map(|m| m.statements.iter()).find_map(|s| match s {
            ast::MeshStatement::Default(d) => Some(d),
            _ => None,
        })
    }

    /// Every (gateway, route) pair, in program order.
    pub fn routes(&self) -> impl Iterator<Item = (&'a ast::Gateway, &'a ast::Route)> + '_ {
        self.gateways.iter().flat_map(|g| g.routes.iter().map(move |r| (*g, r)))
    }
}
