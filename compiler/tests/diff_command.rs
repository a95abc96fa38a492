//! `meshc diff` and `meshc who-can` read bundles as well as sources: a bundle built from a
//! program compares equal to the program, a tampered bundle is refused, and missing paths are
//! usage errors.

mod scratch;
use scratch::Scratch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn meshc(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshc"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("meshc runs")
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compiler/ has a parent")
        .to_path_buf()
}

fn scratch(name: &str) -> Scratch {
    let dir = Scratch::new(&format!("diff-{name}"));
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_bundle_of_the_same_program_shows_no_change_and_a_changed_one_does() {
    let dir = scratch("bundle");
    let example = workspace_root().join("examples/starfleet");
    let bundle = dir.join("bundle.json");
    let built = meshc(
        &[
            "build",
            example.to_str().unwrap(),
            "-o",
            bundle.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(built.status.code(), Some(0), "{}", text(&built.stderr));

    let same = meshc(
        &[
            "diff",
            bundle.to_str().unwrap(),
            example.to_str().unwrap(),
            "--fail-on",
            "any",
        ],
        &dir,
    );
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stderr));
    assert_eq!(text(&same.stdout), "no change in behaviour\n");

    let edited = dir.join("edited");
    std::fs::create_dir_all(&edited).unwrap();
    for entry in std::fs::read_dir(&example).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        let mut content = std::fs::read_to_string(&path).unwrap();
        if name == "edge.mesh" {
            content = content.replace("    allow groups [science]\n", "");
        }
        std::fs::write(edited.join(name), content).unwrap();
    }
    let changed = meshc(
        &[
            "diff",
            bundle.to_str().unwrap(),
            edited.to_str().unwrap(),
            "--fail-on",
            "weaker-auth",
        ],
        &dir,
    );
    assert_eq!(changed.status.code(), Some(1), "{}", text(&changed.stderr));
    let report = text(&changed.stdout);
    assert!(
        report.contains("route edge/sensors: consumer `riker` gains access"),
        "{report}"
    );

    let who = meshc(
        &[
            "who-can",
            "reach",
            "route",
            "sensors",
            bundle.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(who.status.code(), Some(0), "{}", text(&who.stderr));
    assert!(
        text(&who.stdout).contains("callers: data (JWT)"),
        "{}",
        text(&who.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_tampered_bundle_is_refused_with_its_digest_error() {
    let dir = scratch("tampered");
    let example = workspace_root().join("examples/starfleet");
    let bundle = dir.join("bundle.json");
    let built = meshc(
        &[
            "build",
            example.to_str().unwrap(),
            "-o",
            bundle.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(built.status.code(), Some(0));
    let json = std::fs::read_to_string(&bundle).unwrap();
    std::fs::write(&bundle, json.replace("\"/sensors\"", "\"/sensorz\"")).unwrap();
    let out = meshc(
        &["diff", bundle.to_str().unwrap(), example.to_str().unwrap()],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("digest"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(&bundle, "{not json").unwrap();
    let out = meshc(&["who-can", "produce", "x", bundle.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a Meshwork bundle"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_programs_are_usage_errors_and_broken_ones_input_errors() {
    let dir = scratch("missing");
    let out = meshc(&["diff", "nowhere", "nowhere-else"], &dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    std::fs::write(dir.join("broken.mesh"), "gateway {").unwrap();
    let out = meshc(&["diff", "broken.mesh", "broken.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = meshc(&["who-can", "reach", "service", "x", "broken.mesh"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn turning_websockets_off_on_a_route_is_a_change_diff_names() {
    let dir = scratch("websocket");
    let route = |line: &str| {
        format!(
            "gateway edge {{\n  listen \"127.0.0.1:8080\"\n  route chat {{ match GET \"/chat\" public {line} forward chat }}\n}}\nservice chat {{ endpoints [\"127.0.0.1:9101\"] }}\n"
        )
    };
    std::fs::create_dir_all(dir.join("old")).unwrap();
    std::fs::create_dir_all(dir.join("new")).unwrap();
    std::fs::write(dir.join("old/edge.mesh"), route("")).unwrap();
    std::fs::write(dir.join("new/edge.mesh"), route("websocket off")).unwrap();
    let out = meshc(&["diff", "old", "new"], &dir);
    let said = text(&out.stdout);
    assert!(
        said.contains("websocket { max 10000  idle 300000ms } → off"),
        "{said}{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_mesh_mirror_added_or_changed_is_a_destination_change() {
    let dir = scratch("mesh-mirror");
    let program = |line: &str| {
        format!(
            "service picard {{ endpoints [\"127.0.0.1:9101\"] }}\nservice riker {{ endpoints [\"127.0.0.1:9103\"] }}\nservice riker-v2 {{ endpoints [\"127.0.0.1:9105\"] }}\nmesh {{\n  default allow\n  {line}\n}}\n"
        )
    };
    for (name, line) in [
        ("none", ""),
        ("ten", "mirror picard -> riker to riker-v2 10%"),
        ("fifty", "mirror picard -> riker to riker-v2 50%"),
    ] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("mesh.mesh"), program(line)).unwrap();
    }
    let out = meshc(&["diff", "none", "ten"], &dir);
    let said = text(&out.stdout);
    assert!(
        said.contains("mesh picard -> riker")
            && said.contains("mirror to riker-v2 10% max_body 65536 bytes queue 64 added"),
        "{said}{}",
        text(&out.stderr)
    );
    let out = meshc(&["diff", "ten", "fifty", "--fail-on", "destination"], &dir);
    let said = text(&out.stdout);
    assert!(
        said.contains("mirror to riker-v2 50% max_body 65536 bytes queue 64 added")
            && said.contains("mirror to riker-v2 10% max_body 65536 bytes queue 64 removed"),
        "{said}"
    );
    assert_ne!(out.status.code(), Some(0), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
