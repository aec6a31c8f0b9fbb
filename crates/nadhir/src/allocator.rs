//! The allocator's settings. mimalloc reads its options from the environment once, as
//! the process starts (before `main`), and the workspace forbids the `unsafe` call that
//! would change them later; so `nadhir` sets them by running itself again, at once,
//! with them in its environment (`exec`: the same process id, arguments, standard
//! streams and inherited descriptors). An option an operator has set already is left
//! as it is, and no second run happens then.

/// mimalloc returns memory it no longer uses to the operating system after this many
/// milliseconds. Its default, 1,000, is shorter than the cycle of a sync (a page checked
/// and written, a commit every 100,000 objects), so each page's objects were allocated
/// in memory the kernel had to fault in and zero again. At 10 s, a node receiving
/// 1,000,000 objects faulted 220,000-290,000 pages instead of 1,070,000-1,170,000 and
/// spent 2-6 s less system time, for 20-50 MB more peak RSS (`docs/PERFORMANCE.md`,
/// "Memory kept for 10 s"); memory unused for 10 s still goes back.
pub const PURGE_DELAY_VAR: &str = "MIMALLOC_PURGE_DELAY";
/// See [`PURGE_DELAY_VAR`].
pub const PURGE_DELAY_MS: &str = "10000";

/// Replaces this process with the same program, arguments and environment plus the
/// allocator's settings, unless they are set already. Returns only when that is not
/// possible; the process then goes on with mimalloc's defaults.
pub fn apply() {
    if std::env::var_os(PURGE_DELAY_VAR).is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // The running program's own file, even if its path was replaced since it started.
        let exe = if cfg!(target_os = "linux") {
            std::path::PathBuf::from("/proc/self/exe")
        } else {
            match std::env::current_exe() {
                Ok(p) => p,
                Err(_) => return,
            }
        };
        let mut args = std::env::args_os();
        let mut cmd = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            cmd.arg0(arg0);
        }
        // `exec` returns only on failure.
        let _failed = cmd.args(args).env(PURGE_DELAY_VAR, PURGE_DELAY_MS).exec();
    }
}
