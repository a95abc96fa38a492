//! Building and publishing bundles into a directory a web server serves, as a CI job would:
//! compile, stamp a serial, sign, write the signature and then the bundle, each atomically.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use meshwork_bundle::signature::{sign_bundle_text, SignedBundle};
use meshwork_bundle::Bundle;

/// A gateway answering `GET /ping` with `answer`, listening on an ephemeral port.
pub fn ping_program(answer: &str) -> String {
    format!(
        "gateway edge {{\n  listen \"127.0.0.1:0\"\n  route ping {{ match GET \"/ping\"  public  respond 200 \"{answer}\" }}\n}}\n"
    )
}

/// Compiles `source` (written to `scratch`) with `serial`.
pub fn build(scratch: &Path, source: &str, serial: u64) -> Bundle {
    let file = scratch.join("program.mesh");
    std::fs::write(&file, source).unwrap();
    let compilation = meshc::compile_paths(std::slice::from_ref(&file)).unwrap();
    let mut bundle = compilation.bundle.expect("the program compiles");
    bundle.serial = serial;
    bundle.seal();
    bundle
}

/// Where bundles are published, and how many times (each publish gets its own mtime, so that
/// nginx's `ETag` — modification time and size — changes even for same-size bundles).
pub struct Shelf {
    /// The served directory.
    pub root: PathBuf,
    publishes: u64,
}

impl Shelf {
    /// A shelf in `root`.
    pub fn new(root: &Path) -> Shelf {
        std::fs::create_dir_all(root).unwrap();
        Shelf {
            root: root.to_path_buf(),
            publishes: 0,
        }
    }

    /// Publishes `text` as `name`, with `signature` (`None` removes it), signature first.
    pub fn publish_text(&mut self, name: &str, text: &str, signature: Option<&str>) {
        self.publish_bytes(name, text.as_bytes(), signature);
    }

    /// [`Shelf::publish_text`] for any bytes.
    pub fn publish_bytes(&mut self, name: &str, bytes: &[u8], signature: Option<&str>) {
        self.publishes += 1;
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + self.publishes);
        let sig = self.root.join(format!("{name}.sig"));
        match signature {
            Some(signature) => write_atomically(&sig, signature.as_bytes(), mtime),
            None => {
                let _ = std::fs::remove_file(&sig);
            }
        }
        write_atomically(&self.root.join(name), bytes, mtime);
    }

    /// Publishes `bundle` as `name`, signed with `key` (the private key text) when given.
    pub fn publish(&mut self, name: &str, bundle: &Bundle, key: Option<&str>) {
        let text = bundle.to_pretty_json();
        let signature = key.map(|key| signature_of(key, &bundle.digest, text.len()));
        self.publish_text(name, &text, signature.as_deref());
    }
}

/// A signature by `key` (the private key text) vouching for `digest` and a JSON text of
/// `text_length` bytes.
pub fn signature_of(key: &str, digest: &str, text_length: usize) -> String {
    let signed = SignedBundle {
        digest: digest.to_string(),
        text_length: text_length as u64,
    };
    sign_bundle_text(key, &signed).unwrap()
}

fn write_atomically(path: &Path, bytes: &[u8], mtime: SystemTime) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&temporary)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&temporary, path).unwrap();
}
