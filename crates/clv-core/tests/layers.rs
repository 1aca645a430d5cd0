//! The module import graph of clv-core follows a declared layer order: a module imports only
//! from layers below its own (and from itself), so no import runs upward and no two modules
//! import each other. docs/architecture.md describes the layers.

use std::collections::BTreeSet;
use std::path::Path;

/// The top-level modules of `src/`, lowest layer first. Modules on one line share a layer and
/// must not import each other.
const LAYERS: &[&[&str]] = &[
    // The model mathematics (the clv-models crate) and helpers every layer may use.
    &["ltv", "common"],
    // Typed errors (usage, input data, model, internal) every layer may raise.
    &["error"],
    // Kernels: pure computations on slices and columns.
    &["rfm", "churn"],
    // The `clv.` session options.
    &["config"],
    // Segment-evaluation kernels: the purchase panel, labellers, metrics, grids and value
    // concentration (pure computations; they read option enums such as `Monetary`).
    &["segment"],
    // Row-level SQL functions.
    &["udf"],
    // Logical plans, and reading inputs (transaction sources, segment scheme files).
    &["plan", "scheme_file"],
    // Physical operators.
    &["exec"],
    // Table providers.
    &["table"],
    // Table functions and the Rust builders that mirror them.
    &["udtf", "api"],
    // The one list of functions.
    &["registry"],
    // The crate root: registration and re-exports.
    &["lib"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a source file belongs to (`src/plan/rfm.rs` → `plan`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .to_string();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names through `crate::` outside comments, including the
/// items of a `use crate::{a, b::c}` group.
fn imports(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            // The error macros (`crate::usage_err!`, ...) are exported at the crate root by
            // error.rs: using one imports that module.
            let macro_call = rest[name.len()..].starts_with('!');
            out.insert(if macro_call && ERROR_MACROS.contains(&name.as_str()) {
                "error".to_string()
            } else {
                name
            });
        }
    }
    out
}

/// The macros error.rs exports at the crate root.
const ERROR_MACROS: &[&str] = &[
    "usage_err",
    "usage_error",
    "input_err",
    "input_error",
    "model_err",
    "model_error",
];

#[test]
fn no_import_runs_up_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = vec![];
    let mut modules = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer(&module) else {
            problems.push(format!("src/{module}: not in the layer list of tests/layers.rs"));
            continue;
        };
        modules.insert(module.clone());
        let text = std::fs::read_to_string(file).unwrap();
        for imported in imports(&text) {
            if imported == module {
                continue;
            }
            // Items of the crate root (`crate::SegmentScheme`) are re-exports: name their module.
            let Some(theirs) = layer(&imported) else {
                problems.push(format!(
                    "{}: imports crate::{imported}, which is not a module in the layer list",
                    file.strip_prefix(&src).unwrap().display()
                ));
                continue;
            };
            if theirs >= own {
                problems.push(format!(
                    "{}: {module} (layer {own}) imports {imported} (layer {theirs})",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    for l in LAYERS.iter().flat_map(|l| l.iter()) {
        if *l != "ltv" && !modules.contains(*l) {
            problems.push(format!("the layer list names {l}, which has no file in src/"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
