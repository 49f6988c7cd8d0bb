//! Redis Streams: one `XADD STREAM MAXLEN ~ N * eve LINE` per record, a batch per pipeline,
//! over one blocking connection that is opened again after any error.

use std::time::Duration;

use crate::sender::{SendError, Sink};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const IO_TIMEOUT: Duration = Duration::from_secs(5);

pub struct RedisSink {
    client: redis::Client,
    conn: Option<redis::Connection>,
    stream: String,
    maxlen: u64,
}

impl RedisSink {
    /// No connection is made here: the first send connects (and a broker that is down at start
    /// is a retry, not an error).
    ///
    /// # Errors
    /// The address does not make a Redis URL.
    pub fn new(
        auth: &str,
        host: &str,
        port: u16,
        stream: &str,
        maxlen: u64,
    ) -> Result<RedisSink, String> {
        let auth = if auth.is_empty() {
            String::new()
        } else {
            format!("{auth}@")
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let client = redis::Client::open(format!("redis://{auth}{host}:{port}/"))
            .map_err(|e| e.to_string())?;
        Ok(RedisSink {
            client,
            conn: None,
            stream: stream.to_string(),
            maxlen,
        })
    }

    fn connection(&mut self) -> redis::RedisResult<&mut redis::Connection> {
        if self.conn.is_none() {
            let c = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
            c.set_read_timeout(Some(IO_TIMEOUT))?;
            c.set_write_timeout(Some(IO_TIMEOUT))?;
            self.conn = Some(c);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| redis::RedisError::from(std::io::Error::other("not connected")))
    }
}

impl Sink for RedisSink {
    fn send(&mut self, records: &[Vec<u8>]) -> Result<(), SendError> {
        let mut pipe = redis::pipe();
        for r in records {
            let cmd = pipe.cmd("XADD").arg(&self.stream);
            if self.maxlen > 0 {
                cmd.arg("MAXLEN").arg("~").arg(self.maxlen);
            }
            cmd.arg("*").arg("eve").arg(r.as_slice()).ignore();
        }
        let res = self.connection().and_then(|c| pipe.query::<()>(c));
        res.map_err(|e| {
            // The connection may be half-way through a reply: start again with a new one. Some
            // records of the batch may have been added; they are sent again (at-least-once).
            self.conn = None;
            SendError::all(records.len(), format!("redis: {e}"))
        })
    }
}
