//! Which mesh service a call's `Host` names: on a sidecar's outbound listener, and in
//! `meshc explain --from`, by the same function. An app calls
//! `http://riker/…`, but also, as it would without a sidecar on Kubernetes,
//! `http://riker.default.svc.cluster.local/…`, `http://riker.default/…` or `http://RIKER./…`.
//!
//! The rule is the pod's resolver's: a host names service `S` when it is `S` itself, or when the
//! resolver would complete it to `S.<mesh domain>`, the first of the sidecar's DNS search
//! domains (on Kubernetes `<namespace>.svc.cluster.local`, the pod's own namespace). Host names
//! are compared without letter case and without a final dot (RFC 4343, RFC 1034 §3.1). A name
//! the resolver would send elsewhere (`riker.other`, another namespace; `riker.example.com`) is
//! not a mesh service, so it gets the outbound listener's 404, never the local `riker`.

use std::borrow::Cow;
use std::collections::HashMap;

/// Where the search domains are read when none are given.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The suffixes that, after a service's name, still name it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceHosts {
    /// The mesh domain first, then each shorter form a search domain completes to it
    /// (`default.svc.cluster.local`, `default.svc`, `default`), lower case, no dots at the ends.
    suffixes: Vec<String>,
}

impl ServiceHosts {
    /// The hosts for `search`, the resolver's search domains in order; the first is the mesh
    /// domain. With none, only a service's own name names it.
    pub fn new(search: &[String]) -> ServiceHosts {
        let domains: Vec<String> = search
            .iter()
            .map(|domain| domain.trim_matches('.').to_ascii_lowercase())
            .filter(|domain| !domain.is_empty())
            .collect();
        let Some(mesh_domain) = domains.first() else {
            return ServiceHosts::default();
        };
        let mut suffixes = vec![mesh_domain.clone()];
        for domain in &domains[1..] {
            let shorter = mesh_domain
                .strip_suffix(domain.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .filter(|rest| !rest.is_empty());
            if let Some(shorter) = shorter {
                if !suffixes.iter().any(|s| s == shorter) {
                    suffixes.push(shorter.to_string());
                }
            }
        }
        ServiceHosts { suffixes }
    }

    /// The search domains of a comma-separated list (`--search-domains`), blanks trimmed.
    pub fn search_domains_in_list(list: &str) -> Vec<String> {
        list.split(',')
            .map(str::trim)
            .filter(|domain| !domain.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// The search domains of a `resolv.conf` text: the last `search` (or `domain`) line wins,
    /// as in the C resolver.
    pub fn search_domains(resolv_conf: &str) -> Vec<String> {
        let mut domains = Vec::new();
        for line in resolv_conf.lines() {
            let mut words = line.split_whitespace();
            if let Some("search" | "domain") = words.next() {
                domains = words.map(str::to_string).collect();
            }
        }
        domains
    }

    /// The mesh domain, if any.
    pub fn mesh_domain(&self) -> Option<&str> {
        self.suffixes.first().map(String::as_str)
    }

    /// Why `host` named no service, for the outbound listener's 404.
    pub fn no_service(&self, host: &str) -> String {
        match self.mesh_domain() {
            None => format!("the mesh has no service `{host}`"),
            Some(domain) => format!(
                "the mesh has no service `{host}` (a service is called by its name, or by its \
                 name in the mesh domain `{domain}`: SERVICE.{domain})"
            ),
        }
    }

    /// The first answer of `lookup` for the names `host` (without its port) may stand for: the
    /// host as sent, then without case and final dot, then each mesh-domain form stripped to
    /// the service's name. `lookup` finds a service by name.
    pub fn resolve<T>(&self, host: &str, mut lookup: impl FnMut(&str) -> Option<T>) -> Option<T> {
        if let Some(found) = lookup(host) {
            return Some(found);
        }
        let bare = host.strip_suffix('.').unwrap_or(host);
        let folded = match bare.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(bare.to_ascii_lowercase()),
            false => Cow::Borrowed(bare),
        };
        // The folded name is a candidate of its own only when it is not the host just looked up
        // (every call by an already lower-case Kubernetes name would look it up twice).
        let changed = (folded.as_ref() != host).then_some(folded.as_ref());
        let candidates = changed
            .into_iter()
            .chain(self.suffixes.iter().filter_map(|suffix| {
                folded
                    .strip_suffix(suffix.as_str())
                    .and_then(|rest| rest.strip_suffix('.'))
                    .filter(|name| !name.is_empty())
            }));
        candidates.filter_map(lookup).next()
    }

    /// The entry of `services` that `host` (without its port) names, with the service's name.
    pub fn find<'s, V>(
        &self,
        host: &str,
        services: &'s HashMap<String, V>,
    ) -> Option<(&'s str, &'s V)> {
        self.resolve(host, |name| services.get_key_value(name))
            .map(|(name, value)| (name.as_str(), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> HashMap<String, u8> {
        [("riker", 1), ("data", 2), ("Worf", 3), ("captains-log", 4)]
            .into_iter()
            .map(|(name, n)| (name.to_string(), n))
            .collect()
    }

    fn kubernetes() -> ServiceHosts {
        let conf = "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local \
                    cluster.local\noptions ndots:5\n";
        ServiceHosts::new(&ServiceHosts::search_domains(conf))
    }

    fn named(hosts: &ServiceHosts, host: &str) -> Option<&'static str> {
        let services = services();
        hosts.find(host, &services).map(|(name, _)| match name {
            "riker" => "riker",
            "data" => "data",
            "Worf" => "Worf",
            "captains-log" => "captains-log",
            other => panic!("not a service: {other}"),
        })
    }

    #[test]
    fn kubernetes_names_of_the_pods_namespace_name_the_service() {
        let hosts = kubernetes();
        assert_eq!(hosts.mesh_domain(), Some("default.svc.cluster.local"));
        for host in [
            "riker",
            "riker.",
            "RIKER",
            "Riker.Default.Svc.Cluster.Local.",
            "riker.default.svc.cluster.local",
            "riker.default.svc",
            "riker.default",
        ] {
            assert_eq!(named(&hosts, host), Some("riker"), "{host}");
        }
        assert_eq!(
            named(&hosts, "captains-log.default.svc.cluster.local"),
            Some("captains-log")
        );
    }

    #[test]
    fn each_name_is_looked_up_once() {
        let hosts = kubernetes();
        let looked_up = |host: &str| {
            let mut names = Vec::new();
            let found = hosts.resolve(host, |name| {
                names.push(name.to_string());
                (name == "riker").then_some(())
            });
            (found.is_some(), names)
        };
        assert_eq!(
            looked_up("riker.default"),
            (true, vec!["riker.default".into(), "riker".into()])
        );
        assert_eq!(
            looked_up("Riker.Default."),
            (
                true,
                vec![
                    "Riker.Default.".into(),
                    "riker.default".into(),
                    "riker".into()
                ]
            )
        );
    }

    #[test]
    fn names_the_resolver_would_send_elsewhere_name_no_service() {
        let hosts = kubernetes();
        for host in [
            "riker.other",
            "riker.other.svc.cluster.local",
            "riker.svc.cluster.local",
            "riker.cluster.local",
            "riker.example.com",
            "riker.default.svc.cluster.local.evil",
            "xriker.default",
            ".default.svc.cluster.local",
            "default.svc.cluster.local",
            "default",
            "",
            "picard",
        ] {
            assert_eq!(named(&hosts, host), None, "{host}");
        }
    }

    #[test]
    fn a_service_named_in_capitals_answers_to_its_exact_name_only() {
        // DNS labels of Kubernetes services are lower case; such a name is no DNS name.
        let hosts = kubernetes();
        assert_eq!(named(&hosts, "Worf"), Some("Worf"));
        assert_eq!(named(&hosts, "worf"), None);
        assert_eq!(named(&hosts, "Worf.default"), None);
    }

    #[test]
    fn without_search_domains_only_the_name_in_any_case_names_a_service() {
        let hosts = ServiceHosts::new(&[]);
        assert_eq!(hosts.mesh_domain(), None);
        assert_eq!(named(&hosts, "data"), Some("data"));
        assert_eq!(named(&hosts, "DATA."), Some("data"));
        assert_eq!(named(&hosts, "data.default"), None);
    }

    #[test]
    fn resolv_conf_search_lines() {
        let search = |text| ServiceHosts::search_domains(text);
        assert_eq!(search("nameserver 1.1.1.1\n"), Vec::<String>::new());
        assert_eq!(
            search("search a.example b.example\n"),
            ["a.example", "b.example"]
        );
        // The last line wins; `domain` is the old one-domain form.
        assert_eq!(
            search("search a.example\ndomain corp.example\n"),
            ["corp.example"]
        );
        assert_eq!(search("# search no\nsearch\tlan  \n"), ["lan"]);
        assert_eq!(
            ServiceHosts::search_domains_in_list(" a.example, ,b.example,"),
            ["a.example", "b.example"]
        );
        // A search domain that completes nothing to the mesh domain adds no suffix.
        let hosts = ServiceHosts::new(&search("search ns.svc.cluster.local corp.example"));
        assert_eq!(named(&hosts, "data.ns"), None);
        assert_eq!(named(&hosts, "data.ns.svc.cluster.local"), Some("data"));
        // Dots at the ends of a search domain are not part of it.
        let hosts = ServiceHosts::new(&search("search .ns.svc.cluster.local. svc.cluster.local."));
        assert_eq!(named(&hosts, "data.ns"), Some("data"));
    }
}
