//! Engine settings. Every memory bound of the data plane is one of these fields; the defaults
//! are stated here and in the README.

use tapir_flow::stream::StreamConfig;
use tapir_wire::DefragConfig;

/// Per-engine (per-worker) settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most flows held at once. When full, the least recently seen 1/16 are ended with reason
    /// `forced` (counted), so a flood of new 5-tuples cannot grow memory. Default 262 144.
    pub max_flows: usize,
    /// Idle timeout of a flow whose other side never answered (µs). Default 30 s.
    pub timeout_new_us: u64,
    /// Idle timeout of an established TCP flow (µs). Default 600 s.
    pub timeout_tcp_established_us: u64,
    /// Idle timeout of a TCP flow after FIN from both sides or RST (µs). Default 30 s.
    pub timeout_tcp_closed_us: u64,
    /// Idle timeout of a UDP or other flow with traffic both ways (µs). Default 120 s.
    pub timeout_udp_us: u64,
    /// TCP reassembly bounds per direction (depth default 1 MiB, out-of-order 64 KiB).
    pub stream: StreamConfig,
    /// IP defragmentation bounds (16 MiB, 4096 datagrams, 60 s by default).
    pub defrag: DefragConfig,
    /// UDP packets probed for an app-layer protocol before a flow is given up on. Default 4.
    pub udp_probe_packets: u8,
    /// Produce observations for the behaviour detectors (see `observe`). Off by default for
    /// a bare engine (whose caller must then drain them with `Engine::take_observations`:
    /// they accumulate until taken); a replay turns it on when detection is enabled.
    pub observe: bool,
    /// Long-connection thresholds (µs of flow age) reported while a flow is still open, each
    /// once per flow. Set by the replay from the detector configuration.
    pub long_conn_us: Vec<u64>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_flows: 262_144,
            timeout_new_us: 30_000_000,
            timeout_tcp_established_us: 600_000_000,
            timeout_tcp_closed_us: 30_000_000,
            timeout_udp_us: 120_000_000,
            stream: StreamConfig::default(),
            defrag: DefragConfig::default(),
            udp_probe_packets: 4,
            observe: false,
            long_conn_us: Vec::new(),
        }
    }
}
