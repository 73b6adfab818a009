//! Starts moto server from the project venv on loopback (through `scripts/moto_server.py`, which
//! serialises requests inside moto) and waits until it answers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// `venv` is the project venv (`make dev` and `make test` create it with moto[server]).
    pub fn start(venv: &Path, port: u16) -> Result<Self, String> {
        Self::start_with_state(venv, port, None)
    }

    /// `start` on a free port. Another process (a test's client socket, another emulator) may take
    /// the port between `free_port` and moto's bind, so a start that fails that way is tried again
    /// on another port.
    pub fn start_anywhere(venv: &Path, state: Option<&Path>) -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::start_with_state(venv, free_port(), state) {
                Ok(moto) => return Ok(moto),
                Err(e) if e.contains("exited early") => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Like `start`; with `state`, moto replays that file at start-up and appends every
    /// state-changing request to it, so its data survives a restart (`make dev` keeps it under
    /// `.local/`; see scripts/moto_server.py).
    pub fn start_with_state(venv: &Path, port: u16, state: Option<&Path>) -> Result<Self, String> {
        let python = venv.join("bin").join("python");
        if !venv.join("bin").join("moto_server").exists() {
            return Err(format!(
                "moto is not installed in {}: run `infra/scripts/venv.sh emulator` (make dev does)",
                venv.display()
            ));
        }
        let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join("moto_server.py");
        let mut command = Command::new(&python);
        command.arg(&launcher).args(["127.0.0.1", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
        if let Some(state) = state {
            if let Some(dir) = state.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            command.env("CHAT_MOTO_STATE", state);
        }
        die_with_parent(&mut command);
        let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", launcher.display()))?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut moto = Self { endpoint, child };
        // Replaying a long state file takes a while before the port opens.
        moto.wait_ready(Duration::from_secs(if state.is_some() { 300 } else { 30 }))?;
        Ok(moto)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        let addr = self.endpoint.trim_start_matches("http://").to_string();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("moto_server exited early ({status}); is port {addr} free?"));
            }
            if http_get_ok(&addr, "/moto-api/") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("moto_server did not answer on {addr} within {limit:?}"))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The default venv: `$CHAT_VENV`, else `.venv` at the repository root.
pub fn default_venv() -> PathBuf {
    std::env::var_os("CHAT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(".venv"))
}

/// A free loopback port (the OS picks; a race with another process is possible but rare).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// A minimal blocking GET: readiness only needs the status line.
fn http_get_ok(addr: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200")
}

/// Ask Linux to kill the emulator when the thread that started it ends, so a crashed gateway or
/// test run leaves no server behind.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child being set up.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}
