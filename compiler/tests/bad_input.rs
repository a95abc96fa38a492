//! Hostile input through the real binary: each case exits 1 (2 for I/O) with a located
//! diagnostic, never a panic, a stack overflow or a hang. (cli.rs covers non-UTF-8, NUL
//! bytes, deep nesting, a 1 MB identifier, a 50 MB file, include cycles and missing files.)

mod scratch;
use scratch::Scratch;

use std::path::Path;
use std::process::{Command, Output};

fn meshc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("meshc runs")
}

fn temp_dir(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("bad-{name}"));
    dir
}

/// Checks `text` as `name` and returns the JSON diagnostics, asserting exit code 1 and that
/// nothing panicked.
fn check_fails(dir: &Path, name: &str, text: &[u8]) -> Vec<serde_json::Value> {
    std::fs::write(dir.join(name), text).expect("write");
    let out = meshc(&["check", "--format", "json", name], dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal compiler error"),
        "{name}: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
    let diagnostics: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert!(!diagnostics.is_empty(), "{name}: no diagnostic");
    for d in &diagnostics {
        assert_eq!(
            d["file"], name,
            "{name}: every diagnostic is located in the file"
        );
        assert!(
            d["line"].as_u64().is_some_and(|l| l >= 1)
                && d["column"].as_u64().is_some_and(|c| c >= 1),
            "{name}: {d}"
        );
    }
    diagnostics
}

fn first(diagnostics: &[serde_json::Value]) -> (String, u64, u64) {
    let d = &diagnostics[0];
    (
        d["code"].as_str().expect("code").to_string(),
        d["line"].as_u64().expect("line"),
        d["column"].as_u64().expect("column"),
    )
}

/// A fixed linear congruential generator: the same "random" bytes on every run.
fn random_bytes(state: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (*state >> 56) as u8
        })
        .collect()
}

/// Runs `meshc check --format FORMAT name` and asserts exit 1, no panic, and output that names
/// the file with a line and column (the human report on standard error, the others on stdout).
fn check_fails_in(dir: &Path, name: &str, format: &str) {
    let out = meshc(&["check", "--format", format, name], dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal compiler error"),
        "{name} as {format}: {stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{name} as {format}: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let located = match format {
        "human" => stderr.contains(&format!("[{name}:")),
        "json" => stdout.contains(&format!("\"file\":\"{name}\"")),
        "sarif" => stdout.contains(&format!("\"uri\": \"{name}\"")),
        _ => stdout.contains(&format!("file={name},line=")),
    };
    assert!(located, "{name} as {format}: {stdout}{stderr}");
}

#[test]
fn random_bytes_are_a_located_error() {
    let dir = temp_dir("random");
    let mut state: u64 = 0x5eed;
    for round in 0..20 {
        let bytes = random_bytes(&mut state, 4096);
        check_fails(&dir, &format!("random{round}.mesh"), &bytes);
    }
}

#[test]
fn random_bytes_give_a_located_error_in_every_format() {
    let dir = temp_dir("random-formats");
    let mut state: u64 = 0xfeed;
    let seed = include_bytes!("fixtures/seed_program.mesh");
    for round in 0..6 {
        // Pure noise, and a valid program with a few random bytes written into it.
        let noise = random_bytes(&mut state, 512);
        let mut spliced = seed.to_vec();
        let at = (state as usize) % seed.len();
        spliced.splice(at..at, random_bytes(&mut state, 3));
        for (kind, bytes) in [("noise", noise), ("spliced", spliced)] {
            let name = format!("{kind}{round}.mesh");
            std::fs::write(dir.join(&name), &bytes).expect("write");
            if meshc(&["check", &name], &dir).status.code() == Some(0) {
                continue; // the random bytes landed inside a comment or a string
            }
            for format in ["human", "json", "sarif", "github"] {
                check_fails_in(&dir, &name, format);
            }
        }
    }
}

#[test]
fn unterminated_strings_blocks_and_comments_point_at_where_they_open() {
    let dir = temp_dir("unterminated");
    let cases: [(&str, &str, (&str, u64, u64)); 4] = [
        (
            "string.mesh",
            "gateway g {\n  listen \"127.0.0.1:8080\n}\n",
            ("E0002", 2, 10),
        ),
        (
            "block.mesh",
            "service s {\n  timeout 2s\n",
            ("E0003", 1, 11),
        ),
        (
            "list.mesh",
            "service s {\n  endpoints [\"127.0.0.1:1\",\n",
            ("E0003", 2, 13),
        ),
        (
            "comment.mesh",
            "service s { timeout 2s }\n/* never closed\nservice t {}\n",
            ("E0004", 2, 1),
        ),
    ];
    for (name, text, (code, line, column)) in cases {
        let diagnostics = check_fails(&dir, name, text.as_bytes());
        assert_eq!(
            first(&diagnostics),
            (code.to_string(), line, column),
            "{name}"
        );
    }
}

#[test]
fn numbers_and_ports_out_of_range_are_located_errors() {
    let dir = temp_dir("ranges");
    let cases: [(&str, &str, (&str, u64, u64)); 5] = [
        (
            "overflow.mesh",
            "service s {\n  retry 99999999999999999999999\n}\n",
            ("E0009", 2, 9),
        ),
        (
            "port.mesh",
            "gateway g {\n  listen \"0.0.0.0:70000\"\n}\n",
            ("E0010", 2, 10),
        ),
        (
            "listen.mesh",
            "gateway g {\n  listen \"not an address\"\n}\n",
            ("E0010", 2, 10),
        ),
        (
            "endpoint.mesh",
            "service s {\n  endpoints [\"127.0.0.1:9101\", \"picard\"]\n}\n",
            ("E0010", 2, 32),
        ),
        (
            "endpoint_port.mesh",
            "service s { endpoints [\"127.0.0.1:65536\"] }\n",
            ("E0010", 1, 24),
        ),
    ];
    for (name, text, (code, line, column)) in cases {
        let diagnostics = check_fails(&dir, name, text.as_bytes());
        assert_eq!(
            first(&diagnostics),
            (code.to_string(), line, column),
            "{name}"
        );
    }
}

#[test]
fn ten_thousand_nested_brackets_in_a_list_or_cel_fail_cleanly() {
    let dir = temp_dir("nesting");
    let list = format!(
        "service s {{ endpoints {}\"a:1\"{} }}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let diagnostics = check_fails(&dir, "list.mesh", list.as_bytes());
    assert_eq!(first(&diagnostics).0, "E0001");
    let cel = format!(
        "gateway g {{ listen \"127.0.0.1:1\" route r {{ match GET \"/\" public when {}1{} respond 200 }} }}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let diagnostics = check_fails(&dir, "cel.mesh", cel.as_bytes());
    assert_eq!(first(&diagnostics).0, "E0007");
}

#[test]
fn a_file_with_thousands_of_errors_reports_the_first_hundred_and_stops() {
    let dir = temp_dir("many");
    let text = "servce broken {}\n".repeat(50_000);
    let diagnostics = check_fails(&dir, "many.mesh", text.as_bytes());
    assert_eq!(diagnostics.len(), 101);
    let last = diagnostics.last().expect("a last diagnostic");
    assert!(
        last["message"]
            .as_str()
            .is_some_and(|m| m.contains("too many errors")),
        "{last}"
    );
    assert_eq!(last["line"], 101);
}

#[test]
fn a_file_over_the_size_limit_is_refused_without_being_read() {
    let dir = temp_dir("sparse");
    let file = std::fs::File::create(dir.join("huge.mesh")).expect("create");
    // Sparse: 65 MiB on paper, nothing on disk.
    file.set_len(65 * 1024 * 1024).expect("set_len");
    drop(file);
    let out = meshc(&["check", "--format", "json", "huge.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"code\":\"E0018\"") && stdout.contains("\"file\":\"huge.mesh\""),
        "{stdout}"
    );
}

#[cfg(unix)]
#[test]
fn an_endless_device_is_cut_at_the_size_limit() {
    let dir = temp_dir("device");
    let out = meshc(&["check", "--format", "json", "/dev/zero"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"code\":\"E0018\""));
}

/// Checks `main.mesh` naming `schema.json` (holding `schema`) and returns the diagnostics,
/// asserting exit code 1, no panic, and that each one is located in the schema file or the
/// `.mesh` file.
fn check_schema_fails(dir: &Path, schema: &[u8]) -> Vec<serde_json::Value> {
    std::fs::write(dir.join("schema.json"), schema).expect("write");
    std::fs::write(
        dir.join("main.mesh"),
        "topic \"captains-log\" { schema \"schema.json\" }\n",
    )
    .expect("write");
    let out = meshc(&["check", "--format", "json", "main.mesh"], dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let diagnostics: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert!(!diagnostics.is_empty(), "no diagnostic");
    for d in &diagnostics {
        assert!(
            d["file"] == "schema.json" || d["file"] == "main.mesh",
            "located: {d}"
        );
        assert!(d["line"].as_u64().is_some_and(|l| l >= 1), "{d}");
    }
    diagnostics
}

#[test]
fn arbitrary_bytes_as_a_topic_schema_are_located_diagnostics() {
    let dir = temp_dir("schema-bytes");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("E0005", vec![0x7b, 0xff, 0xfe, 0x7d]),
        ("E0006", b"{\"type\": \"object\"\0}".to_vec()),
        ("E0411", b"{\"type\": \"object\",}".to_vec()),
        ("E0411", b"".to_vec()),
        ("E0411", deep.into_bytes()),
        (
            "E0412",
            br#"{"properties": {"a": {"minLength": -1}}}"#.to_vec(),
        ),
        ("E0412", br#"{"required": "stardate"}"#.to_vec()),
        ("E0414", br##"{"$ref": "#/$defs/missing"}"##.to_vec()),
    ];
    for (code, bytes) in cases {
        let diagnostics = check_schema_fails(&dir, &bytes);
        assert_eq!(
            first(&diagnostics).0,
            code,
            "{:?}: {diagnostics:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        );
    }
    // A schema that is fine, for contrast: the program checks clean.
    std::fs::write(dir.join("schema.json"), br#"{"type": "object"}"#).unwrap();
    let out = meshc(&["check", "main.mesh"], &dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
