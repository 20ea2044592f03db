//! Where the dashboard's files are included from (src/admin/mod.rs):
//! scripts/build.sh minifies the script and the style sheet (esbuild) and
//! strips the page's indentation, into target/dashboard, and names that
//! folder in HOOKGATE_DASHBOARD_DIR, so the module carries them without
//! comments and indentation; every other build
//! (tests, lints, the fuzz targets) includes the readable sources in
//! src/admin.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HOOKGATE_DASHBOARD_DIR");
    let dir = match std::env::var("HOOKGATE_DASHBOARD_DIR") {
        Ok(dir) if !dir.is_empty() => dir,
        _ => format!(
            "{}/src/admin",
            std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned())
        ),
    };
    println!("cargo:rustc-env=HOOKGATE_DASHBOARD_DIR={dir}");
}
