//! `gateway NAME { listen … consumer … route … identity … method_mismatch … }`: listeners, path
//! settings, consumers, routes and settings in source order.

use crate::source::Spanned;
use crate::syntax::ast::{Consumer, CredentialKind, Gateway, Listener, PathSetting, Tracing};

use super::layout::{Block, Entry, Fold, Line};
use super::literals::{list, percent, secret, string};
use super::route::route;
use super::source_scan::SourceText;

/// The gateway block.
pub fn gateway(source: &SourceText<'_>, gateway: &Gateway) -> Entry {
    let mut children: Vec<Entry> = Vec::new();
    children.extend(gateway.listeners.iter().map(listener));
    children.extend(gateway.path_settings.iter().map(path_setting));
    children.extend(gateway.consumers.iter().map(|c| consumer(source, c)));
    children.extend(gateway.routes.iter().map(|r| route(source, r)));
    children.extend(gateway.method_mismatch.iter().map(|m| {
        Line::new()
            .text("method_mismatch")
            .text(m.node.to_string())
            .at(m.span.start as usize, m.span.end as usize)
    }));
    children.extend(gateway.identity.iter().map(|identity| {
        Line::new()
            .text("identity")
            .text(string(&identity.node))
            .at(identity.span.start as usize, identity.span.end as usize)
    }));
    children.extend(gateway.tracing.iter().map(|t| tracing(source, t)));
    // The tree keeps each kind apart; the source order is what the author wrote.
    children.sort_by_key(|entry| entry.start);
    Block {
        head: format!("gateway {}", gateway.name.node),
        open: source.open_brace(gateway.name.span.end as usize),
        close: gateway.span.end as usize - 1,
        children,
        fold: Fold::Never,
    }
    .at(gateway.span.start as usize)
}

/// `tracing { sample N% }`, on one line when it fits.
fn tracing(source: &SourceText<'_>, tracing: &Tracing) -> Entry {
    let children = tracing
        .sample
        .iter()
        .map(|share| {
            Line::new()
                .text("sample")
                .text(percent(share.node))
                .at(share.span.start as usize, share.span.end as usize)
        })
        .collect();
    Block {
        head: "tracing".to_string(),
        open: source.open_brace(tracing.span.start as usize + "tracing".len()),
        close: tracing.span.end as usize - 1,
        children,
        fold: Fold::UpTo(1),
    }
    .at(tracing.span.start as usize)
}

/// `listen "ADDR" [tls cert SECRET key SECRET]`.
fn listener(listener: &Listener) -> Entry {
    let tls = listener.tls.as_ref().map(|tls| {
        format!(
            "tls cert {} key {}",
            secret(&tls.cert.node),
            secret(&tls.key.node)
        )
    });
    Line::new()
        .text("listen")
        .text(string(&listener.address.node))
        .maybe(tls)
        .at(listener.span.start as usize, listener.span.end as usize)
}

/// `merge_slashes on|off`, `escaped_slashes reject|keep|unescape`.
fn path_setting(setting: &Spanned<PathSetting>) -> Entry {
    Line::new()
        .text(setting.node.keyword())
        .text(setting.node.value())
        .at(setting.span.start as usize, setting.span.end as usize)
}

/// `consumer NAME { credentials…  groups […] }`, on one line when it fits.
fn consumer(source: &SourceText<'_>, consumer: &Consumer) -> Entry {
    let mut children: Vec<Entry> = consumer
        .credentials
        .iter()
        .map(|credential| {
            let line = match &credential.node {
                CredentialKind::Key(key) => Line::new().text("key").text(secret(&key.node)),
                CredentialKind::Basic { user, password } => Line::new()
                    .text("basic user")
                    .text(string(&user.node))
                    .text("password")
                    .text(secret(&password.node)),
                CredentialKind::Jwt { subject } => {
                    Line::new().text("jwt subject").text(string(&subject.node))
                }
            };
            line.at(credential.span.start as usize, credential.span.end as usize)
        })
        .collect();
    if let (Some(first), Some(last)) = (consumer.groups.first(), consumer.groups.last()) {
        // Several `groups` lines are one list; it is printed once, after the credentials.
        let groups = list(source, &consumer.groups, |g| g.node.clone(), |g| g.span);
        let start = source.open_bracket(first.span.start as usize);
        let end = source.close_bracket(last.span.end as usize) + 1;
        children.push(Line::new().text("groups").part(groups).at(start, end));
    }
    Block {
        head: format!("consumer {}", consumer.name.node),
        open: source.open_brace(consumer.name.span.end as usize),
        close: consumer.span.end as usize - 1,
        children,
        fold: Fold::UpTo(usize::MAX),
    }
    .at(consumer.span.start as usize)
}
