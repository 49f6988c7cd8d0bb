//! The fixed identity of every finding kind: signature id, wording, category, ATT&CK tags.
//! Ids are 1 630 000 + n and never change meaning (SIEM rules key on them).

use std::net::IpAddr;

use crate::obs::Finding;

/// What a kind of finding is, independent of the traffic that raised it.
#[derive(Debug)]
pub struct Kind {
    pub detector: &'static str,
    pub signature_id: u64,
    /// Middle part of the signature text (`"TAPIR BEHAVIOUR <what> <key>"`).
    pub what: &'static str,
    pub category: &'static str,
    pub techniques: &'static [&'static str],
    pub tactics: &'static [&'static str],
}

const C2: &[&str] = &["TA0011"];
const EXFIL: &[&str] = &["TA0010"];

pub const BEACON_IP: Kind = Kind {
    detector: "beacon",
    signature_id: 1_630_001,
    what: "beacon",
    category: "Command and Control: Beaconing",
    techniques: &["T1071", "T1573"],
    tactics: C2,
};
pub const BEACON_NAME: Kind = Kind {
    detector: "beacon",
    signature_id: 1_630_002,
    what: "beacon to name",
    category: "Command and Control: Beaconing",
    techniques: &["T1071", "T1573"],
    tactics: C2,
};
pub const DNS_TUNNEL: Kind = Kind {
    detector: "dns_tunnel",
    signature_id: 1_630_010,
    what: "DNS tunnel",
    category: "Command and Control: DNS Tunnelling",
    techniques: &["T1071.004", "T1048"],
    tactics: &["TA0011", "TA0010"],
};
pub const DNS_TUNNEL_TXT: Kind = Kind {
    detector: "dns_tunnel",
    signature_id: 1_630_011,
    what: "DNS TXT tunnel",
    category: "Command and Control: DNS Tunnelling",
    techniques: &["T1071.004", "T1048"],
    tactics: &["TA0011", "TA0010"],
};
pub const DGA: Kind = Kind {
    detector: "dga",
    signature_id: 1_630_020,
    what: "DGA NXDOMAIN burst",
    category: "Command and Control: Domain Generation Algorithm",
    techniques: &["T1568.002"],
    tactics: C2,
};
pub const SCAN_VERTICAL: Kind = Kind {
    detector: "scan",
    signature_id: 1_630_030,
    what: "vertical port scan",
    category: "Discovery: Network Service Scanning",
    techniques: &["T1046"],
    tactics: &["TA0007"],
};
pub const SCAN_HORIZONTAL: Kind = Kind {
    detector: "scan",
    signature_id: 1_630_031,
    what: "horizontal port scan",
    category: "Discovery: Network Service Scanning",
    techniques: &["T1046"],
    tactics: &["TA0007"],
};
pub const EXFIL_VOLUME: Kind = Kind {
    detector: "exfil",
    signature_id: 1_630_040,
    what: "large upload",
    category: "Exfiltration: Large Upload",
    techniques: &["T1048", "T1041"],
    tactics: EXFIL,
};
pub const LONG_CONN: Kind = Kind {
    detector: "long_conn",
    signature_id: 1_630_050,
    what: "long connection",
    category: "Command and Control: Long Connection",
    techniques: &["T1071"],
    tactics: C2,
};
pub const PORT_OFF_USUAL: Kind = Kind {
    detector: "port_mismatch",
    signature_id: 1_630_060,
    what: "protocol on non-standard port",
    category: "Command and Control: Non-Standard Port",
    techniques: &["T1571"],
    tactics: C2,
};
pub const PORT_WRONG_PROTO: Kind = Kind {
    detector: "port_mismatch",
    signature_id: 1_630_061,
    what: "unexpected protocol on well-known port",
    category: "Command and Control: Non-Standard Port",
    techniques: &["T1571"],
    tactics: C2,
};
pub const TLS_SELF_SIGNED: Kind = Kind {
    detector: "tls_anomaly",
    signature_id: 1_630_070,
    what: "TLS self-signed certificate",
    category: "Command and Control: Suspicious TLS",
    techniques: &["T1573.002"],
    tactics: C2,
};
pub const TLS_EXPIRED: Kind = Kind {
    detector: "tls_anomaly",
    signature_id: 1_630_071,
    what: "TLS certificate outside validity",
    category: "Command and Control: Suspicious TLS",
    techniques: &["T1573.002"],
    tactics: C2,
};
pub const TLS_NO_SNI: Kind = Kind {
    detector: "tls_anomaly",
    signature_id: 1_630_072,
    what: "TLS without SNI",
    category: "Command and Control: Suspicious TLS",
    techniques: &["T1573.002"],
    tactics: C2,
};
pub const TLS_RARE_FINGERPRINT: Kind = Kind {
    detector: "tls_anomaly",
    signature_id: 1_630_073,
    what: "rare TLS client fingerprint",
    category: "Command and Control: Suspicious TLS",
    techniques: &["T1573.002", "T1071.001"],
    tactics: C2,
};

/// Every kind, for documentation and the tests.
pub const ALL: &[&Kind] = &[
    &BEACON_IP,
    &BEACON_NAME,
    &DNS_TUNNEL,
    &DNS_TUNNEL_TXT,
    &DGA,
    &SCAN_VERTICAL,
    &SCAN_HORIZONTAL,
    &EXFIL_VOLUME,
    &LONG_CONN,
    &PORT_OFF_USUAL,
    &PORT_WRONG_PROTO,
    &TLS_SELF_SIGNED,
    &TLS_EXPIRED,
    &TLS_NO_SNI,
    &TLS_RARE_FINGERPRINT,
];

impl Kind {
    /// A finding of this kind with no ports, score, flows or context yet.
    pub(crate) fn finding(
        &self,
        ts_us: u64,
        key: &str,
        severity: u8,
        src: IpAddr,
        dest: IpAddr,
    ) -> Finding {
        Finding {
            ts_us,
            detector: self.detector,
            signature_id: self.signature_id,
            signature: format!("TAPIR BEHAVIOUR {} {}", self.what, key),
            category: self.category,
            severity,
            score: None,
            mitre_technique_id: self.techniques.to_vec(),
            mitre_tactic_id: self.tactics.to_vec(),
            src,
            src_port: None,
            dest,
            dest_port: None,
            proto: None,
            flow_id: None,
            flow_ids: Vec::new(),
            context: serde_json::Map::new(),
        }
    }
}

/// `context` entries, written `ctx(&mut f, "name", value)`.
pub(crate) fn ctx(f: &mut Finding, key: &str, v: impl Into<serde_json::Value>) {
    f.context.insert(key.to_string(), v.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_in_range() {
        let mut ids: Vec<u64> = ALL.iter().map(|k| k.signature_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        assert!(ids.iter().all(|i| (1_630_000..1_631_000).contains(i)));
    }
}
