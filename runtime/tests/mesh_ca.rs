//! `meshd ca` over the real binary: init and issue round trip through the loader a sidecar uses,
//! and every certificate a sidecar must refuse (expired, not yet valid, foreign, mismatched key,
//! no SPIFFE ID, garbage) is refused by `meshd ca check` with exit 1 and a message that says why.

mod mesh_identity_support;
mod scratch;

use std::time::{Duration, SystemTime};

use mesh_identity_support::{id, refused, run_meshd, Scratch, TestCa};
use meshd::mesh::identity::{CertLoadError, WorkloadCert};

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_then_issue_round_trips_through_the_sidecar_loader() {
    let temp = Scratch::new("round-trip");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    #[cfg(unix)]
    assert_eq!(mode(&ca.dir.join("ca.key")), 0o600);
    let out = temp.path("picard");
    let serial = ca.issue("picard", &out, &[]);
    #[cfg(unix)]
    assert_eq!(mode(&out.join("tls.key")), 0o600);
    assert_eq!(
        std::fs::read_to_string(out.join("ca.crt")).unwrap(),
        ca.cert_pem(),
        "the bundle is the CA certificate"
    );

    let cert = WorkloadCert::load(&out).unwrap();
    assert_eq!(cert.identity, id("spiffe://starfleet/picard"));
    assert_eq!(cert.facts.serial, serial);
    let ttl = cert
        .facts
        .not_after
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        ttl > Duration::from_secs(24 * 3600 - 120) && ttl <= Duration::from_secs(24 * 3600),
        "default lifetime is 24h, got {ttl:?}"
    );

    let output = run_meshd(&["ca", "check", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("ok: spiffe://starfleet/picard") && stdout.contains(&serial),
        "{stdout}"
    );
}

#[test]
fn issue_takes_an_explicit_identity_lifetime_and_extra_sans() {
    let temp = Scratch::new("explicit");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let out = temp.path("bridge");
    let output = run_meshd(&[
        "ca",
        "issue",
        ca.dir.to_str().unwrap(),
        "--identity",
        "spiffe://starfleet/ns/bridge/sa/picard",
        "--ttl",
        "90m",
        "--dns",
        "picard.starfleet.test",
        "--ip",
        "127.0.0.1",
        "--key-type",
        "ecdsa-p384",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    let cert = WorkloadCert::load(&out).unwrap();
    assert_eq!(cert.identity, id("spiffe://starfleet/ns/bridge/sa/picard"));
    let ttl = cert
        .facts
        .not_after
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(ttl <= Duration::from_secs(90 * 60) && ttl > Duration::from_secs(85 * 60));
    let pem = std::fs::read(out.join("tls.crt")).unwrap();
    let (_, parsed) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let x509 = parsed.parse_x509().unwrap();
    let sans = format!(
        "{:?}",
        x509.subject_alternative_name().unwrap().unwrap().value
    );
    assert!(
        sans.contains("picard.starfleet.test") && sans.contains("[127, 0, 0, 1]"),
        "{sans}"
    );
}

#[test]
fn a_gateway_certificate_names_the_gateway() {
    let temp = Scratch::new("gateway");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let out = temp.path("edge");
    let output = run_meshd(&[
        "ca",
        "issue",
        ca.dir.to_str().unwrap(),
        "--gateway",
        "edge",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        WorkloadCert::load(&out).unwrap().identity,
        id("spiffe://starfleet/edge")
    );
}

#[test]
fn an_expired_certificate_is_refused_with_when_it_expired() {
    let temp = Scratch::new("expired");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let out = temp.path("picard");
    ca.forge("spiffe://starfleet/picard", &out, |params| {
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::hours(48);
        params.not_after = time::OffsetDateTime::now_utc() - time::Duration::hours(24);
    });
    let stderr = refused(&["ca", "check", out.to_str().unwrap()]);
    assert!(stderr.contains("tls.crt expired at"), "{stderr}");
    assert!(stderr.contains("issue a new one"), "{stderr}");
    assert!(matches!(
        WorkloadCert::load(&out),
        Err(CertLoadError::Expired { .. })
    ));
}

#[test]
fn a_certificate_not_yet_valid_is_refused_with_a_hint_about_the_clock() {
    let temp = Scratch::new("future");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let out = temp.path("picard");
    ca.forge("spiffe://starfleet/picard", &out, |params| {
        params.not_before = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
    });
    let stderr = refused(&["ca", "check", out.to_str().unwrap()]);
    assert!(
        stderr.contains("is not valid yet") && stderr.contains("clock"),
        "{stderr}"
    );
}

#[test]
fn a_certificate_from_another_ca_is_refused_as_not_chaining_to_the_bundle() {
    let temp = Scratch::new("foreign");
    let ours = TestCa::init(temp.path("ours"), "starfleet");
    let theirs = TestCa::init(temp.path("theirs"), "starfleet");
    let out = temp.path("picard");
    theirs.issue("picard", &out, &[]);
    std::fs::write(out.join("ca.crt"), ours.cert_pem()).unwrap();
    let stderr = refused(&["ca", "check", out.to_str().unwrap()]);
    assert!(
        stderr.contains("does not chain to the trust bundle")
            && stderr.contains("issued by a CA the bundle does not hold"),
        "{stderr}"
    );
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let temp = Scratch::new("mismatch");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let picard = temp.path("picard");
    let riker = temp.path("riker");
    ca.issue("picard", &picard, &[]);
    ca.issue("riker", &riker, &[]);
    std::fs::copy(riker.join("tls.key"), picard.join("tls.key")).unwrap();
    let stderr = refused(&["ca", "check", picard.to_str().unwrap()]);
    assert!(
        stderr.contains("tls.key does not belong to the certificate"),
        "{stderr}"
    );
}

#[test]
fn a_certificate_without_a_spiffe_id_is_refused() {
    let temp = Scratch::new("no-spiffe");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let out = temp.path("picard");
    ca.forge("spiffe://starfleet/picard", &out, |params| {
        params.subject_alt_names = vec![rcgen::SanType::DnsName(
            "picard.starfleet.test".try_into().unwrap(),
        )];
    });
    let stderr = refused(&["ca", "check", out.to_str().unwrap()]);
    assert!(
        stderr.contains("is not a workload certificate") && stderr.contains("no URI SAN"),
        "{stderr}"
    );
    ca.forge("spiffe://starfleet/picard", &out, |params| {
        params.subject_alt_names.push(rcgen::SanType::URI(
            "spiffe://starfleet/riker".try_into().unwrap(),
        ));
    });
    let stderr = refused(&["ca", "check", out.to_str().unwrap()]);
    assert!(stderr.contains("2 URI SANs"), "{stderr}");
    ca.forge("spiffe://starfleet/picard", &out, |params| {
        params.subject_alt_names = vec![rcgen::SanType::URI(
            "https://starfleet/picard".try_into().unwrap(),
        )];
    });
    let stderr = refused(&["ca", "check", out.to_str().unwrap()]);
    assert!(stderr.contains("must start with `spiffe://`"), "{stderr}");
}

#[test]
fn a_chain_through_an_intermediate_loads() {
    let temp = Scratch::new("intermediate");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let out = temp.path("picard");
    ca.forge_via_intermediate("spiffe://starfleet/picard", &out);
    let cert = WorkloadCert::load(&out).unwrap();
    assert_eq!(cert.certified_key.cert.len(), 2);
    std::fs::write(out.join("tls.crt"), {
        let chain = std::fs::read_to_string(out.join("tls.crt")).unwrap();
        let leaf_end = chain.find("-----END CERTIFICATE-----").unwrap();
        chain[..leaf_end + "-----END CERTIFICATE-----\n".len()].to_string()
    })
    .unwrap();
    let stderr = refused(&["ca", "check", out.to_str().unwrap()]);
    assert!(stderr.contains("does not chain"), "{stderr}");
}

#[test]
fn spire_and_spiffe_helper_file_names_are_read_too() {
    let temp = Scratch::new("spire-names");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let issued = temp.path("issued");
    ca.issue("picard", &issued, &[]);
    for (dir, names) in [
        ("helper", ["svid.pem", "svid_key.pem", "svid_bundle.pem"]),
        ("agent", ["svid.0.pem", "svid.0.key", "bundle.0.pem"]),
    ] {
        let out = temp.path(dir);
        std::fs::create_dir_all(&out).unwrap();
        for (from, to) in ["tls.crt", "tls.key", "ca.crt"].iter().zip(names) {
            std::fs::copy(issued.join(from), out.join(to)).unwrap();
        }
        let output = run_meshd(&["ca", "check", out.to_str().unwrap()]);
        assert!(output.status.success(), "{dir}: {output:?}");
        assert_eq!(
            WorkloadCert::load(&out).unwrap().identity,
            id("spiffe://starfleet/picard")
        );
    }
}

#[test]
fn ca_commands_refuse_bad_requests_with_exit_1() {
    let temp = Scratch::new("requests");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let ca_dir = ca.dir.to_str().unwrap();
    let out = temp.path("out");
    let out = out.to_str().unwrap();

    let stderr = refused(&["ca", "init", "--trust-domain", "starfleet", ca_dir]);
    assert!(
        stderr.contains("already holds a CA") && stderr.contains("--force"),
        "{stderr}"
    );
    let replaced = run_meshd(&[
        "ca",
        "init",
        "--trust-domain",
        "starfleet",
        "--force",
        ca_dir,
    ]);
    assert!(replaced.status.success(), "{replaced:?}");

    let stderr = refused(&[
        "ca",
        "init",
        "--trust-domain",
        "Star Fleet",
        &format!("{ca_dir}2"),
    ]);
    assert!(stderr.contains("bad trust domain"), "{stderr}");
    let stderr = refused(&[
        "ca",
        "issue",
        ca_dir,
        "--identity",
        "spiffe://romulus/x",
        "--out",
        out,
    ]);
    assert!(
        stderr.contains("outside the CA's trust domain `starfleet`"),
        "{stderr}"
    );
    let stderr = refused(&[
        "ca",
        "issue",
        ca_dir,
        "--identity",
        "spiffe://starfleet",
        "--out",
        out,
    ]);
    assert!(stderr.contains("names the trust domain itself"), "{stderr}");
    let stderr = refused(&["ca", "issue", ca_dir, "--service", "pi/card", "--out", out]);
    assert!(stderr.contains("is not a mesh name"), "{stderr}");
    let stderr = refused(&[
        "ca",
        "issue",
        ca_dir,
        "--service",
        "picard",
        "--ttl",
        "800d",
        "--out",
        out,
    ]);
    assert!(stderr.contains("after the CA expires"), "{stderr}");
    let stderr = refused(&[
        "ca",
        "issue",
        ca_dir,
        "--service",
        "picard",
        "--dns",
        "not a name",
        "--out",
        out,
    ]);
    assert!(stderr.contains("is not a DNS name"), "{stderr}");
    let stderr = refused(&["ca", "issue", out, "--service", "picard", "--out", out]);
    assert!(stderr.contains("ca.crt"), "{stderr}");

    let usage = run_meshd(&["ca", "issue", ca_dir, "--out", out]);
    assert_eq!(
        usage.status.code(),
        Some(2),
        "no identity flag is a usage error"
    );
}

#[test]
fn arbitrary_bytes_in_certificate_files_are_refused_without_a_panic() {
    let temp = Scratch::new("garbage");
    let ca = TestCa::init(temp.path("ca"), "starfleet");
    let issued = temp.path("issued");
    ca.issue("picard", &issued, &[]);
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    };
    for file in ["tls.crt", "tls.key", "ca.crt"] {
        for garbage in [
            noise(700),
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            Vec::new(),
        ] {
            let out = temp.path("case");
            let _ = std::fs::remove_dir_all(&out);
            std::fs::create_dir_all(&out).unwrap();
            for name in ["tls.crt", "tls.key", "ca.crt"] {
                std::fs::copy(issued.join(name), out.join(name)).unwrap();
            }
            std::fs::write(out.join(file), &garbage).unwrap();
            let stderr = refused(&["ca", "check", out.to_str().unwrap()]);
            assert!(stderr.contains(file), "{file}: {stderr}");
        }
    }
    std::fs::write(ca.dir.join("ca.key"), noise(300)).unwrap();
    let stderr = refused(&[
        "ca",
        "issue",
        ca.dir.to_str().unwrap(),
        "--service",
        "x",
        "--out",
        temp.path("x").to_str().unwrap(),
    ]);
    assert!(stderr.contains("ca.key"), "{stderr}");
}
