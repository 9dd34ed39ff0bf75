//! A private `redis-server` on a free loopback port, killed on drop.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// `Some(path)` of the server binary; `None` (after a loud message) when it
/// is missing outside CI. In CI (`CI` set) a missing binary fails the test.
pub fn binary() -> Option<String> {
    let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(bin);
    }
    if std::env::var_os("CI").is_some() {
        panic!("`{bin}` not found, and CI is set: install the redis-server package");
    }
    // Straight to the process's stderr: libtest captures `eprintln!`.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! SKIPPED: `{bin}` not found. The cluster tests need a Redis server: \n\
         !! apt-get install redis-server (or set REDIS_SERVER_BIN). With CI set,\n\
         !! they fail instead of skipping.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    None
}

pub struct RedisServer {
    bin: String,
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

impl RedisServer {
    /// Starts a server, or returns `None` when the binary is missing (and
    /// CI is not set).
    pub fn start() -> Option<RedisServer> {
        let bin = binary()?;
        let dir = std::env::temp_dir().join(format!(
            "scoped-cancel-redis-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // The port may be taken between this drop and the server's bind
        // (acknowledged race); a failed start says so with the log.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut server = RedisServer {
            bin,
            port,
            dir,
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
        let start = Instant::now();
        loop {
            if let Ok(mut conn) = self.client().get_connection() {
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start on port {}\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
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
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("--- redis-server log (tail) ---\n{}", tail.join("\n"))
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
