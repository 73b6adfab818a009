//! Memory and CPU of the password path (register hashes, login verifies: argon2id, 19 MiB each)
//! under each allocator setting, in child processes of the bench (glibc reads `MALLOC_*` when a
//! process starts). Each child runs the project's own `auth::password` on tokio's blocking pool,
//! as `http-api` does, 100 registrations and 100 logins one after another, and reports its RSS
//! and the CPU time of one hash (thread CPU clock, so other load on the machine does not count).

/// CPU time of the calling thread: what one hash costs on one core, whatever else the machine runs.
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into the valid pointer it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1000.0 + t.tv_nsec as f64 / 1e6
}

/// `CHAT_BENCH_ONLY=argon2-child`: the child's side; prints `rss_kib hwm_kib hash_ms`.
pub async fn child() {
    let rounds = 100;
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let password = format!("bench-password-{i}");
        let (phc, cpu_ms) = tokio::task::spawn_blocking(move || {
            let t = thread_cpu_ms();
            let phc = chat::auth::password::hash(&password).unwrap();
            (phc, thread_cpu_ms() - t)
        })
        .await
        .unwrap();
        times.push(cpu_ms);
        let ok =
            tokio::task::spawn_blocking(move || chat::auth::password::verify(&format!("bench-password-{i}"), &phc))
                .await
                .unwrap();
        assert!(ok);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    println!("{} {} {:.2}", field("VmRSS:"), field("VmHWM:"), crate::client::median(times));
}

pub struct Setting {
    pub name: &'static str,
    pub rss_mib: f64,
    pub peak_mib: f64,
    pub hash_ms: f64,
}

/// Runs the child under each setting.
pub fn measure() -> Vec<Setting> {
    let settings: [(&'static str, &[(&str, &str)]); 4] = [
        ("glibc defaults", &[]),
        ("MALLOC_ARENA_MAX=2", &[("MALLOC_ARENA_MAX", "2")]),
        ("MALLOC_MMAP_THRESHOLD_=131072", &[("MALLOC_MMAP_THRESHOLD_", "131072")]),
        ("both (template.yaml)", &[("MALLOC_ARENA_MAX", "2"), ("MALLOC_MMAP_THRESHOLD_", "131072")]),
    ];
    let exe = std::env::current_exe().expect("bench executable");
    settings
        .iter()
        .map(|(name, env)| {
            let mut command = std::process::Command::new(&exe);
            command
                .env("CHAT_BENCH_ONLY", "argon2-child")
                .env_remove("MALLOC_ARENA_MAX")
                .env_remove("MALLOC_MMAP_THRESHOLD_");
            for (k, v) in env.iter() {
                command.env(k, v);
            }
            let out = command.output().expect("run the child");
            let text = String::from_utf8_lossy(&out.stdout);
            let values: Vec<f64> = text.split_whitespace().filter_map(|v| v.parse().ok()).collect();
            let value = |i: usize| values.get(i).copied().unwrap_or(f64::NAN);
            Setting { name, rss_mib: value(0) / 1024.0, peak_mib: value(1) / 1024.0, hash_ms: value(2) }
        })
        .collect()
}

/// The Markdown section.
pub fn render(settings: &[Setting]) -> String {
    let mut out = String::from(
        "## Memory of the password path (http-api)\n\nChild processes of the bench, each running the project's `auth::password` on tokio's blocking pool as `http-api` does: 100 registrations (hash) and 100 logins (verify), argon2id with the crate's defaults (m = 19 MiB, t = 2, p = 1). RSS after them and the peak; the median CPU time of one hash (thread CPU clock).\n\n| allocator setting | RSS after 100 + 100 | peak RSS | one hash, median |\n|---|---|---|---|\n",
    );
    for s in settings {
        out.push_str(&format!("| {} | {:.1} MiB | {:.1} MiB | {:.1} ms |\n", s.name, s.rss_mib, s.peak_mib, s.hash_ms));
    }
    // Lambda gives a function CPU in proportion to its memory: 1 vCPU at 1,769 MB.
    if let Some(hash_ms) = settings.first().map(|s| s.hash_ms).filter(|t| t.is_finite()) {
        // A login is one verify (≈ one hash) plus about 3 round trips of ~5 ms.
        let io_ms = 15.0;
        let at = |mb: f64| hash_ms / (mb / 1769.0).min(1.0) + io_ms;
        let needed = 1769.0 * hash_ms / (150.0 - io_ms);
        out.push_str(&format!(
            "\nLogin at Lambda's CPU share (1 vCPU at 1,769 MB): one verify ≈ {hash_ms:.1} ms × 1,769 / MemorySize, plus ≈ {io_ms:.0} ms of AWS calls: {:.0} ms at 256 MB, {:.0} ms at 512 MB, {:.0} ms at 1,024 MB. p50 < 150 ms needs MemorySize ≥ {needed:.0} MB for `http-api` (x86_64 here; arm64 Graviton cores are of the same order for argon2: re-measure there).\n",
            at(256.0),
            at(512.0),
            at(1024.0),
        ));
    }
    out
}
