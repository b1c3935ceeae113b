//! The node under test as a child process: started, asked over HTTP,
//! measured through `/proc`, and stopped (also on an early return).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

type Error = Box<dyn std::error::Error>;

/// A running `meganet node` with every listener on a free loopback port.
pub struct Node {
    child: Child,
    dir: PathBuf,
    http: SocketAddr,
}

impl Node {
    /// Starts the node with `args` added and waits for its HTTP address.
    pub fn start(args: &[String]) -> Result<Self, Error> {
        let dir = std::env::temp_dir().join(format!("meganet-bench-node-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let log = std::fs::File::create(dir.join("node.log"))?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_meganet"))
            .arg("node")
            .args(["--data", &dir.join("data").to_string_lossy()])
            .args(["--www", &dir.join("www").to_string_lossy()])
            .args(["--http", "127.0.0.1:0", "--ws", "127.0.0.1:0"])
            .args([
                "--tcp",
                "127.0.0.1:0",
                "--webrtc",
                "127.0.0.1:0",
                "--sites",
                "127.0.0.1:0",
            ])
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut node = Self {
            child,
            dir,
            http: "0.0.0.0:0".parse()?,
        };
        for line in BufReader::new(stdout).lines() {
            if let Some(url) = line?.strip_prefix("web app: http://") {
                node.http = url.trim_end_matches('/').parse()?;
                return Ok(node);
            }
        }
        Err(format!("the node exited before serving HTTP:\n{}", node.log()).into())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The node's log so far (stderr), for error messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default()
    }

    /// GETs `path` from the node's HTTP server and decodes the JSON body.
    pub fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let mut stream = TcpStream::connect(self.http)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.http
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response.split_once("\r\n\r\n").ok_or("no HTTP body")?;
        if !head.starts_with("HTTP/1.1 200") || head.to_ascii_lowercase().contains("chunked") {
            return Err(format!("GET {path}: unexpected response {head:?}").into());
        }
        Ok(serde_json::from_str(body)?)
    }

    /// Resident memory now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Result<u64, Error> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .ok_or("no VmRSS")?;
        Ok(line.trim().trim_end_matches("kB").trim().parse()?)
    }

    /// CPU time used so far, user plus system, in milliseconds.
    pub fn cpu_ms(&self) -> Result<f64, Error> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the command name, which may hold spaces: state is
        // field 3, utime 14 and stime 15.
        let rest = stat.rsplit_once(')').ok_or("bad /proc stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields.get(11).ok_or("no utime")?.parse::<u64>()?
            + fields.get(12).ok_or("no stime")?.parse::<u64>()?;
        // SAFETY: sysconf reads a constant of the system.
        let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Ok(ticks as f64 * 1000.0 / per_sec.max(1) as f64)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SIGTERM for a clean stop, SIGKILL if it does not come.
        // SAFETY: signals our own child, by its id.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Raises this process's open-file limit to its hard limit, so the
/// clients' sockets fit; the node, started afterwards, inherits it.
pub fn raise_fd_limit() -> Result<u64, Error> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: both calls only read or write `limit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        // An unlimited hard limit is not a valid soft one.
        limit.rlim_cur = limit.rlim_max.min(1 << 20);
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
    }
    Ok(limit.rlim_cur)
}
