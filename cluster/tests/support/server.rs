//! A private `redis-server` on a free loopback port, killed on drop, and
//! the rule for a missing Redis binary: a failure, unless
//! `SCOPED_CANCEL_SKIP_REDIS=1` asks for the skip.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The variable that turns a missing Redis binary into a skip.
pub const SKIP_VAR: &str = "SCOPED_CANCEL_SKIP_REDIS";

static SKIPPED: AtomicU32 = AtomicU32::new(0);

/// The path of a Redis binary (`default`, or the value of `var`). A
/// missing binary fails the test, unless `SCOPED_CANCEL_SKIP_REDIS=1` asks
/// for the skip: then this says so loudly on the process's stderr (not
/// captured by the harness), with the count of tests skipped so far, and
/// returns `None` for the test to return early.
pub fn find(default: &str, var: &str) -> Option<String> {
    let bin = std::env::var(var).unwrap_or_else(|_| default.into());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(bin);
    }
    if std::env::var(SKIP_VAR).as_deref() != Ok("1") {
        panic!(
            "`{bin}` not found: the cluster tests need Redis (apt-get install redis-server, \
             or set {var}); set {SKIP_VAR}=1 to skip them on purpose"
        );
    }
    let n = SKIPPED.fetch_add(1, Ordering::SeqCst) + 1;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    // One write, so that the harness's own output cannot cut into it.
    let banner = format!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! SKIPPED {test}: `{bin}` not found and {SKIP_VAR}=1.\n\
         !! {n} test(s) of this binary skipped so far (the harness shows them as ok).\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    let _ = std::io::stderr().lock().write_all(banner.as_bytes());
    None
}

/// The `redis-server` binary (see [`find`]).
pub fn binary() -> Option<String> {
    find("redis-server", "REDIS_SERVER_BIN")
}

/// A free loopback port (it may be taken before the server binds it: an
/// acknowledged race; a failed start says so with the log).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A new private directory for one server's files.
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "scoped-cancel-redis-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Waits until a server on `port` answers `PING`, or panics with `log`.
pub fn wait_ready(port: u16, log: impl Fn() -> String) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("url");
    let start = Instant::now();
    loop {
        if let Ok(mut conn) = client.get_connection() {
            if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "redis-server did not start on port {port}\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The last 40 lines of a server's log file.
pub fn log_tail(path: &std::path::Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("--- {} (tail) ---\n{}", path.display(), tail.join("\n"))
}

pub struct RedisServer {
    bin: String,
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server, or returns `None` when the binary is missing and
    /// the skip was asked for.
    pub fn start() -> Option<RedisServer> {
        let bin = binary()?;
        let mut server = RedisServer {
            bin,
            port: free_port(),
            dir: temp_dir(),
            child: None,
        };
        server.spawn();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dbfilename", "dump.rdb"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        wait_ready(self.port, || self.log());
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("redis url")
    }

    pub fn conn(&self) -> redis::Connection {
        self.client()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect: {e}\n{}", self.log()))
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        log_tail(&self.dir.join("redis.log"))
    }

    /// Sends a signal (`STOP`, `CONT`) to the server process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server (no persistence: every key is lost) and starts a
    /// new one on the same port.
    pub fn restart_empty(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(self.dir.join("dump.rdb"));
        self.spawn();
    }

    /// `SAVE`: a snapshot of the dataset as it is now.
    pub fn save(&self) {
        let _: () = redis::cmd("SAVE").query(&mut self.conn()).expect("SAVE");
    }

    /// Kills the server (`SIGKILL`: nothing after the last `SAVE` is kept)
    /// and starts it again from that snapshot.
    pub fn restart_from_snapshot(&mut self) {
        self.stop();
        assert!(self.dir.join("dump.rdb").exists(), "no snapshot");
        self.spawn();
    }

    /// Saves the dataset, stops the server, starts it again from the file.
    pub fn restart_persisted(&mut self) {
        let mut conn = self.conn();
        let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").arg("SAVE").query(&mut conn);
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal("CONT");
        }
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
