//! Node processes: the test binary run again with `SC_NODE_URL` set and
//! the starting test's own name as its filter; that test's first call,
//! [`serve_if_node`], then serves a line protocol on stdin/stdout and exits
//! the process (in the parent it returns at once). No test exists only to
//! be an entry point.
//!
//! Commands: `enter K`, `exit K`, `enter_many PREFIX N [FROM]`, `release_all`,
//! `cancel K`, `holds K`, `report`, `shutdown MS`. Replies and events are
//! lines starting with `@`: `@entered K FENCE`, `@occupied K NODE`,
//! `@error K MSG`, `@cancelled K CAUSE`, `@exited K`, `@won N I,I,..`,
//! `@released N`, `@cancel K BOOL`, `@holds K BOOL`, `@report N`,
//! `@shutdown N`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scoped_cancel::Scope;
use scoped_cancel_redis::{ClusterError, ClusterRegistry};
use tokio::sync::oneshot;

/// How a node is configured.
#[derive(Clone)]
pub struct NodeConfig {
    pub url: String,
    pub namespace: String,
    pub lease: Duration,
    pub pubsub: bool,
}

/// The parent's handle to one node process.
pub struct Node {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pub id: String,
    name: String,
}

impl Node {
    /// Starts a node process running `test` (the calling test's libtest
    /// name: it must call [`serve_if_node`] first). A wrong name runs no
    /// test, so no `@ready` comes and this panics.
    pub fn start(name: &str, config: &NodeConfig, test: &str) -> Node {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env("SC_NODE_URL", &config.url)
            .env("SC_NODE_NS", &config.namespace)
            .env("SC_NODE_LEASE_MS", config.lease.as_millis().to_string())
            .env("SC_NODE_PUBSUB", if config.pubsub { "1" } else { "0" })
            .env("SC_NODE_NAME", name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take().expect("stdin");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with('@') && tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut node = Node {
            child,
            stdin,
            lines,
            id: String::new(),
            name: name.to_owned(),
        };
        let ready = node.expect("@ready", Duration::from_secs(20));
        node.id = ready.split(' ').nth(1).expect("node id").to_owned();
        node
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to node");
        self.stdin.flush().expect("flush");
    }

    /// The next line from the node, or `None` after `limit`.
    pub fn next_line(&mut self, limit: Duration) -> Option<String> {
        match self.lines.recv_timeout(limit) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// The next line starting with `prefix` (earlier lines are skipped and
    /// shown in the panic if it does not come within `limit`).
    pub fn expect(&mut self, prefix: &str, limit: Duration) -> String {
        let start = Instant::now();
        let mut skipped = Vec::new();
        while let Some(left) = limit.checked_sub(start.elapsed()) {
            match self.next_line(left) {
                Some(line) if line.starts_with(prefix) => return line,
                Some(line) => skipped.push(line),
                None => break,
            }
        }
        panic!(
            "node {}: no `{prefix}` line within {limit:?}; other lines: {skipped:?}",
            self.name
        );
    }

    /// Sends `line` and returns the first reply line starting with `prefix`.
    pub fn ask(&mut self, line: &str, prefix: &str) -> String {
        self.send(line);
        self.expect(prefix, Duration::from_secs(10))
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("node {} did not exit within {limit:?}", self.name);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.signal_quiet("CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn signal_quiet(&self, signal: &str) -> std::io::Result<()> {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .stderr(Stdio::null())
            .status()
            .map(drop)
    }
}

/// Runs the node's side when this process was started as a node; returns
/// at once otherwise.
pub fn serve_if_node() {
    let Ok(url) = std::env::var("SC_NODE_URL") else {
        return;
    };
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let config = NodeConfig {
        url,
        namespace: env("SC_NODE_NS"),
        lease: Duration::from_millis(env("SC_NODE_LEASE_MS").parse().unwrap_or(1000)),
        pubsub: env("SC_NODE_PUBSUB") != "0",
    };
    let name = env("SC_NODE_NAME");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(serve(config, name));
    // Exit without running the rest of libtest's output.
    std::process::exit(0);
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn serve(config: NodeConfig, name: String) {
    let registry = ClusterRegistry::<String>::builder(&config.url)
        .namespace(config.namespace.clone())
        .lease(config.lease)
        .pubsub(config.pubsub)
        // As long as the lease: a claim is only refused or granted, never
        // timed out, however loaded the machine (1,000 at once included).
        .command_timeout(config.lease)
        .node_name(name)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    // A new line first: libtest's "test node_process ... " has none.
    say(format!("\n@ready {}", registry.node_id()));

    let (tx, mut commands) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // Jobs waiting for `exit K`, and scopes held by `enter_many`.
    let exits: Arc<Mutex<HashMap<String, oneshot::Sender<()>>>> = Arc::default();
    let mut many: Vec<Scope> = Vec::new();
    while let Some(line) = commands.recv().await {
        let mut words = line.split(' ');
        let (cmd, arg, arg2) = (words.next(), words.next(), words.next());
        match (cmd, arg) {
            (Some("enter"), Some(key)) => {
                let key = key.to_owned();
                let (exit_tx, exit_rx) = oneshot::channel();
                exits.lock().unwrap().insert(key.clone(), exit_tx);
                tokio::spawn(job(registry.clone(), key, exit_rx));
            }
            (Some("exit"), Some(key)) => {
                if let Some(exit) = exits.lock().unwrap().remove(key) {
                    let _ = exit.send(());
                }
            }
            (Some("enter_many"), Some(prefix)) => {
                let n: usize = arg2.and_then(|n| n.parse().ok()).unwrap_or(0);
                // Optional start offset, so racing nodes meet mid-way.
                let from: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                let tries = (0..n).map(|i| (i + from) % n.max(1)).map(|i| {
                    let registry = registry.clone();
                    let key = format!("{prefix}{i}");
                    async move { (i, registry.enter(key).await) }
                });
                let mut won = Vec::new();
                for (i, result) in futures_util::future::join_all(tries).await {
                    match result {
                        Ok(scope) => {
                            won.push(i.to_string());
                            many.push(scope);
                        }
                        Err(ClusterError::KeyOccupied { .. }) => {}
                        Err(e) => say(format!("@error {prefix}{i} {e}")),
                    }
                }
                say(format!("@won {} {}", won.len(), won.join(",")));
            }
            (Some("release_all"), _) => {
                let n = many.len();
                many.clear();
                say(format!("@released {n}"));
            }
            (Some("cancel"), Some(key)) => {
                let done = registry.cancel(&key.to_owned()).await;
                match done {
                    Ok(found) => say(format!("@cancel {key} {found}")),
                    Err(e) => say(format!("@error {key} {e}")),
                }
            }
            (Some("holds"), Some(key)) => {
                say(format!("@holds {key} {}", registry.holds(&key.to_owned())));
            }
            (Some("report"), _) => match registry.report().await {
                Ok(report) => {
                    let nodes: std::collections::BTreeSet<&str> =
                        report.iter().map(|s| s.holder().node()).collect();
                    say(format!("@report {} {}", report.len(), nodes.len()));
                }
                Err(e) => say(format!("@error report {e}")),
            },
            (Some("shutdown"), Some(ms)) => {
                many.clear();
                let grace = Duration::from_millis(ms.parse().unwrap_or(1000));
                let report = registry.shutdown(grace).await;
                say(format!("@shutdown {}", report.stragglers().len()));
                return;
            }
            _ => say(format!("@error {line} unknown command")),
        }
    }
}

/// One job: holds its scope until told to exit or cancelled, and says which.
async fn job(registry: ClusterRegistry<String>, key: String, exit: oneshot::Receiver<()>) {
    let scope = match registry.enter(key.clone()).await {
        Ok(scope) => scope,
        Err(ClusterError::KeyOccupied { holder, .. }) => {
            return say(format!("@occupied {key} {}", holder.node()));
        }
        Err(e) => return say(format!("@error {key} {e}")),
    };
    let fence = registry.fence(&key).unwrap_or(0);
    say(format!("@entered {key} {fence}"));
    let token = scope.token();
    tokio::select! {
        () = token.cancelled() => {
            say(format!("@cancelled {key} {:?}", token.cause().expect("cause")));
            drop(scope);
        }
        _ = exit => {
            drop(scope);
            say(format!("@exited {key}"));
        }
    }
}
