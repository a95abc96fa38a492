//! Release builds of `meshd` lay out their code so that what a sidecar and a gateway run sits
//! together: `layout/meshd.order` (written by `bench/code_layout.sh` from callgrind runs) lists
//! those functions, hottest first, and lld places them in that order. A sidecar then keeps about
//! 2 MB of its 17 MB of code resident instead of 8.5 MB (the kernel maps a binary's pages in
//! blocks around each one touched, so scattered code costs whole blocks). A name the binary no
//! longer has is skipped, so a stale list only weakens the layout. Only where the linker is
//! rustc's default lld (x86_64 Linux); `MESHD_CODE_LAYOUT=off` turns it off.

fn main() {
    println!("cargo:rerun-if-changed=layout/meshd.order");
    println!("cargo:rerun-if-env-changed=MESHD_CODE_LAYOUT");
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let lld_target =
        std::env::var("TARGET").is_ok_and(|target| target == "x86_64-unknown-linux-gnu");
    let wanted = std::env::var("MESHD_CODE_LAYOUT").map_or(true, |value| value != "off");
    if release && lld_target && wanted {
        let order = concat!(env!("CARGO_MANIFEST_DIR"), "/layout/meshd.order");
        println!("cargo:rustc-link-arg-bin=meshd=-Wl,--symbol-ordering-file={order}");
        println!("cargo:rustc-link-arg-bin=meshd=-Wl,--no-warn-symbol-ordering");
    }
}
