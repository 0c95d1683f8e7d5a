//! Records the build target so `logward version` can print it.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=LOGWARD_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
