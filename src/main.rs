//! The `roster` binary: everything lives in the library; this maps its result to an exit code.

// Loading a large directory is mostly small allocations (a key and a value per user field);
// mimalloc makes them markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    roster::cli::main()
}
