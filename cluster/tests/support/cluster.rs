//! A private 3-master Redis Cluster on loopback: three `redis-server
//! --cluster-enabled yes` joined by `redis-cli --cluster create`, killed
//! on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::{find, free_port, log_tail, temp_dir, wait_ready};

pub struct ClusterNode {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl ClusterNode {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to a cluster node")
    }

    /// This node's cluster id.
    pub fn id(&self) -> String {
        redis::cmd("CLUSTER")
            .arg("MYID")
            .query(&mut self.conn())
            .expect("CLUSTER MYID")
    }

    pub fn log(&self) -> String {
        log_tail(&self.dir.join("redis.log"))
    }
}

pub struct RedisCluster {
    pub nodes: Vec<ClusterNode>,
}

impl RedisCluster {
    /// Starts and joins three masters (no replicas), or returns `None`
    /// when a binary is missing and the skip was asked for.
    pub fn start() -> Option<RedisCluster> {
        let server = find("redis-server", "REDIS_SERVER_BIN")?;
        let cli = find("redis-cli", "REDIS_CLI_BIN")?;
        let nodes: Vec<ClusterNode> = (0..3)
            .map(|_| {
                let (port, bus, dir) = (free_port(), free_port(), temp_dir());
                let child = Command::new(&server)
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--cluster-enabled", "yes"])
                    .args(["--cluster-port", &bus.to_string()])
                    .args(["--cluster-node-timeout", "5000"])
                    .args(["--save", "", "--appendonly", "no"])
                    .arg("--dir")
                    .arg(&dir)
                    .arg("--logfile")
                    .arg(dir.join("redis.log"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn redis-server");
                let node = ClusterNode { port, dir, child };
                wait_ready(port, || node.log());
                node
            })
            .collect();
        let cluster = RedisCluster { nodes };
        let addrs: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new(&cli)
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.wait_until_agreed();
        Some(cluster)
    }

    /// Waits until every node says the cluster is ok and agrees on who
    /// serves every slot.
    pub fn wait_until_agreed(&self) {
        let start = Instant::now();
        loop {
            let views: Vec<Option<String>> = self.nodes.iter().map(|n| self.view(n)).collect();
            if views.iter().all(Option::is_some) && views.windows(2).all(|w| w[0] == w[1]) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the cluster did not settle: {views:?}\n{}",
                self.nodes[0].log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A node's view of the slots (`None` until it says `cluster_state:ok`).
    fn view(&self, node: &ClusterNode) -> Option<String> {
        let mut conn = node.conn();
        let info: String = redis::cmd("CLUSTER").arg("INFO").query(&mut conn).ok()?;
        if !info.contains("cluster_state:ok") {
            return None;
        }
        let slots: redis::Value = redis::cmd("CLUSTER").arg("SLOTS").query(&mut conn).ok()?;
        let mut ranges: Vec<String> = match slots {
            redis::Value::Array(ranges) => ranges.iter().map(|r| format!("{r:?}")).collect(),
            _ => return None,
        };
        ranges.sort();
        Some(ranges.join(";"))
    }

    /// The slot of `key`, as the cluster computes it.
    pub fn slot(&self, key: &str) -> u16 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut self.nodes[0].conn())
            .expect("CLUSTER KEYSLOT")
    }

    /// The index in `nodes` of the master serving `slot`.
    pub fn owner(&self, slot: u16) -> usize {
        let port: u16 = {
            let slots: Vec<(u16, u16, (String, u16))> = redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query::<Vec<redis::Value>>(&mut self.nodes[0].conn())
                .expect("CLUSTER SLOTS")
                .into_iter()
                .filter_map(|range| match range {
                    redis::Value::Array(parts) if parts.len() >= 3 => {
                        let num = |v: &redis::Value| match v {
                            redis::Value::Int(n) => Some(*n as u16),
                            _ => None,
                        };
                        let master = match &parts[2] {
                            redis::Value::Array(m) if m.len() >= 2 => m,
                            _ => return None,
                        };
                        let host = match &master[0] {
                            redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                            _ => return None,
                        };
                        Some((num(&parts[0])?, num(&parts[1])?, (host, num(&master[1])?)))
                    }
                    _ => None,
                })
                .collect();
            slots
                .iter()
                .find(|(lo, hi, _)| (*lo..=*hi).contains(&slot))
                .map(|(_, _, (_, port))| *port)
                .expect("slot served")
        };
        self.nodes
            .iter()
            .position(|n| n.port == port)
            .expect("owner among the nodes")
    }

    /// Moves `slot` and its keys from master `from` to master `to`, the way
    /// `redis-cli --cluster reshard` does, and tells every node.
    pub fn move_slot(&self, slot: u16, from: usize, to: usize) {
        let (src, dst) = (&self.nodes[from], &self.nodes[to]);
        let (src_id, dst_id) = (src.id(), dst.id());
        let setslot = |node: &ClusterNode, how: &str, id: &str| {
            let _: () = redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg(how)
                .arg(id)
                .query(&mut node.conn())
                .unwrap_or_else(|e| panic!("SETSLOT {how}: {e}"));
        };
        setslot(dst, "IMPORTING", &src_id);
        setslot(src, "MIGRATING", &dst_id);
        loop {
            let keys: Vec<String> = redis::cmd("CLUSTER")
                .arg("GETKEYSINSLOT")
                .arg(slot)
                .arg(100)
                .query(&mut src.conn())
                .expect("GETKEYSINSLOT");
            if keys.is_empty() {
                break;
            }
            let _: () = redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(dst.port)
                .arg("")
                .arg(0)
                .arg(5000)
                .arg("KEYS")
                .arg(&keys)
                .query(&mut src.conn())
                .expect("MIGRATE");
        }
        // The destination first, then the source, then the rest.
        setslot(dst, "NODE", &dst_id);
        setslot(src, "NODE", &dst_id);
        for (i, node) in self.nodes.iter().enumerate() {
            if i != from && i != to {
                setslot(node, "NODE", &dst_id);
            }
        }
        self.wait_until_agreed();
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
