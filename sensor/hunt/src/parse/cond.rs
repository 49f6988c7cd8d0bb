//! Conditions: `all` / `any` / `not` / `sequence` and the `alert` / `event` leaves with their
//! `where` predicates.

use saphyr::{MarkedYaml, Scalar, YamlData};

use super::{describe, pos, scalar_text, Cx, MAX_COND_DEPTH, MAX_LEAVES, MAX_LIST};
use crate::rule::{
    AlertMatch, Cidr, Cond, FieldPred, Leaf, Op, Val, DETECTORS, EVENT_TYPES, HEADER_FIELDS,
    INTEL_TYPES,
};

impl Cx {
    pub(super) fn cond(&mut self, n: &MarkedYaml, leaves: &mut Vec<Leaf>, depth: usize) -> Cond {
        let dummy = Cond::All(Vec::new());
        if depth > MAX_COND_DEPTH {
            self.err(
                n,
                format!("conditions nested deeper than {MAX_COND_DEPTH} levels"),
            );
            return dummy;
        }
        let Some(m) = self.mapping(n, "a condition") else {
            return dummy;
        };
        let entries = self.entries(m);
        let combinators: Vec<&(String, &MarkedYaml, &MarkedYaml)> = entries
            .iter()
            .filter(|(k, _, _)| matches!(k.as_str(), "all" | "any" | "not" | "sequence"))
            .collect();
        if let Some((k, kn, v)) = combinators.first() {
            if entries.len() > 1 {
                self.err(
                    kn,
                    format!("{k} must be alone in its mapping (put other conditions inside it)"),
                );
            }
            return match k.as_str() {
                "not" => Cond::Not(Box::new(self.cond(v, leaves, depth + 1))),
                "sequence" => {
                    let items = self.cond_list(v, k);
                    let mut ids = Vec::new();
                    for i in items {
                        match self.cond(i, leaves, depth + 1) {
                            Cond::Leaf(l) => ids.push(l),
                            _ => self
                                .err(i, "sequence steps must be alert or event conditions".into()),
                        }
                    }
                    if ids.len() < 2 {
                        self.err(v, "a sequence needs at least two steps".into());
                    }
                    Cond::Sequence(ids)
                }
                _ => {
                    let items = self.cond_list(v, k);
                    let subs = items
                        .into_iter()
                        .map(|i| self.cond(i, leaves, depth + 1))
                        .collect();
                    if k == "all" {
                        Cond::All(subs)
                    } else {
                        Cond::Any(subs)
                    }
                }
            };
        }
        match self.leaf(n, &entries) {
            Some(l) => {
                leaves.push(l);
                Cond::Leaf(leaves.len() - 1)
            }
            None => dummy,
        }
    }

    fn cond_list<'a, 'b>(&mut self, v: &'b MarkedYaml<'a>, k: &str) -> Vec<&'b MarkedYaml<'a>> {
        match &v.data {
            YamlData::Sequence(items) if !items.is_empty() => {
                items.iter().take(MAX_LEAVES * 2).collect()
            }
            YamlData::Sequence(_) => {
                self.err(v, format!("{k} must list at least one condition"));
                Vec::new()
            }
            _ => {
                self.err(
                    v,
                    format!("{k} must be a list of conditions, not {}", describe(v)),
                );
                Vec::new()
            }
        }
    }

    fn leaf(
        &mut self,
        n: &MarkedYaml,
        entries: &[(String, &MarkedYaml, &MarkedYaml)],
    ) -> Option<Leaf> {
        let (line, col) = pos(n);
        let mut event_types = Vec::new();
        let mut alert = None;
        let mut preds = Vec::new();
        let mut min_count = 1;
        let mut kind_seen = 0;
        let mut where_node = None;
        for (k, kn, v) in entries {
            match k.as_str() {
                "event" => {
                    kind_seen += 1;
                    for (t, (l, c)) in self.strings(v, "event") {
                        if EVENT_TYPES.contains(&t.as_str()) {
                            event_types.push(t);
                        } else {
                            self.err_lc(l, c, format!("unknown event type {t:?} (known: {})", EVENT_TYPES.join(", ")));
                        }
                    }
                }
                "alert" => {
                    kind_seen += 1;
                    event_types.push("alert".to_string());
                    alert = Some(self.alert_match(v));
                }
                "where" => where_node = Some(*v),
                "count" => {
                    if let Some(c) = self.unsigned(v, "count") {
                        if c == 0 {
                            self.err(v, "count must be at least 1".into());
                        }
                        min_count = c.max(1);
                    }
                }
                _ => self.err(kn, format!("unknown key {k:?} in a condition (known: all, any, not, sequence, alert, event, where, count)")),
            }
        }
        if kind_seen != 1 {
            self.err(
                n,
                "a condition is one of all, any, not, sequence, or exactly one of alert / event"
                    .into(),
            );
            return None;
        }
        if let Some(w) = where_node {
            preds = self.preds(w, &event_types);
        }
        let label = leaf_label(&event_types, alert.as_ref(), &preds, min_count);
        Some(Leaf {
            event_types,
            alert,
            preds,
            min_count,
            label,
            line,
            col,
        })
    }

    fn alert_match(&mut self, v: &MarkedYaml) -> AlertMatch {
        let mut a = AlertMatch::default();
        if matches!(v.data, YamlData::Value(Scalar::Null)) {
            return a;
        }
        let Some(m) = self.mapping(v, "alert") else {
            return a;
        };
        for (k, kn, val) in self.entries(m) {
            match k.as_str() {
                "detector" => {
                    for (d, (l, c)) in self.strings(val, "detector") {
                        if DETECTORS.contains(&d.as_str()) {
                            a.detector.push(d);
                        } else {
                            self.err_lc(l, c, format!("unknown detector {d:?} (known: {})", DETECTORS.join(", ")));
                        }
                    }
                }
                "min_score" => {
                    if let Some(s) = self.number(val, "min_score") {
                        if (0.0..=1.0).contains(&s) {
                            a.min_score = Some(s);
                        } else {
                            self.err(val, format!("min_score {s}: scores are between 0 and 1"));
                        }
                    }
                }
                "intel_type" => {
                    for (t, (l, c)) in self.strings(val, "intel_type") {
                        if INTEL_TYPES.contains(&t.as_str()) {
                            a.intel_type.push(t);
                        } else {
                            self.err_lc(l, c, format!("unknown indicator type {t:?} (known: {})", INTEL_TYPES.join(", ")));
                        }
                    }
                }
                "feed" => a.feed = self.strings(val, "feed").into_iter().map(|(s, _)| s).collect(),
                "signature_id" => {
                    let items: Vec<&MarkedYaml> = match &val.data {
                        YamlData::Sequence(s) => s.iter().take(MAX_LIST).collect(),
                        _ => vec![val],
                    };
                    for i in items {
                        if let Some(n) = self.unsigned(i, "signature_id") {
                            a.signature_id.push(n);
                        }
                    }
                }
                _ => self.err(kn, format!("unknown key {k:?} in alert (known: detector, min_score, intel_type, feed, signature_id)")),
            }
        }
        a
    }

    fn preds(&mut self, w: &MarkedYaml, types: &[String]) -> Vec<FieldPred> {
        let Some(m) = self.mapping(w, "where") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (path, kn, v) in self.entries(m) {
            let segs: Vec<String> = path.split('.').map(str::to_string).collect();
            if segs.iter().any(|s| {
                s.is_empty()
                    || !s
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            }) {
                self.err(
                    kn,
                    format!(
                        "field {path:?}: dotted names of letters, digits, _ and - (e.g. tls.sni)"
                    ),
                );
                continue;
            }
            let first = segs.first().map(String::as_str).unwrap_or("");
            if !HEADER_FIELDS.contains(&first) && !types.iter().any(|t| t == first) {
                self.err(kn, format!("field {path:?} is not part of {} events (a field starts with the event type, e.g. {}.…, or is a header field such as dest_ip)", types.join("/"), types.first().map(String::as_str).unwrap_or("tls")));
                continue;
            }
            // EVE v2 names that tapir (EVE v3) never writes: a rule on them would never match.
            if let Some(rest) = path.strip_prefix("dns.") {
                if matches!(rest, "rrname" | "rrtype" | "rdata" | "ttl") {
                    self.err(
                        kn,
                        format!("field {path:?}: DNS records are under dns.queries (and dns.answers for rdata, ttl): use dns.queries.{rest} or dns.answers.{rest}"),
                    );
                    continue;
                }
            }
            let ops = self.ops(v, &path);
            if !ops.is_empty() {
                out.push(FieldPred { path: segs, ops });
            }
        }
        out
    }

    fn ops(&mut self, v: &MarkedYaml, path: &str) -> Vec<Op> {
        match &v.data {
            // `field: value` is equality, `field: [a, b]` membership.
            YamlData::Sequence(_) => self.vals(v, path).map(Op::In).into_iter().collect(),
            YamlData::Mapping(m) => {
                let mut ops = Vec::new();
                for (k, kn, val) in self.entries(m) {
                    let what = format!("{path} {k}");
                    let op = match k.as_str() {
                        "eq" => self.val(val, &what).map(Op::Eq),
                        "ne" => self.val(val, &what).map(Op::Ne),
                        "in" => self.vals(val, &what).map(Op::In),
                        "not_in" => self.vals(val, &what).map(Op::NotIn),
                        "contains" => self
                            .string(val, &what)
                            .map(|s| Op::Contains(s.to_ascii_lowercase())),
                        "starts_with" => self
                            .string(val, &what)
                            .map(|s| Op::StartsWith(s.to_ascii_lowercase())),
                        "ends_with" => self
                            .string(val, &what)
                            .map(|s| Op::EndsWith(s.to_ascii_lowercase())),
                        "gt" => self.number(val, &what).map(Op::Gt),
                        "gte" => self.number(val, &what).map(Op::Gte),
                        "lt" => self.number(val, &what).map(Op::Lt),
                        "lte" => self.number(val, &what).map(Op::Lte),
                        "exists" => match &val.data {
                            YamlData::Value(Scalar::Boolean(b)) => Some(Op::Exists(*b)),
                            _ => {
                                self.err(
                                    val,
                                    format!("{what} must be true or false, not {}", describe(val)),
                                );
                                None
                            }
                        },
                        "in_cidr" => {
                            let mut cidrs = Vec::new();
                            for (s, (l, c)) in self.strings(val, &what) {
                                match Cidr::parse(&s) {
                                    Some(x) => cidrs.push(x),
                                    None => self.err_lc(l, c, format!("{what}: {s:?} is not an address or prefix (10.0.0.0/8, 2001:db8::/32)")),
                                }
                            }
                            (!cidrs.is_empty()).then_some(Op::InCidr(cidrs))
                        }
                        _ => {
                            self.err(kn, format!("unknown operator {k:?} (known: eq, ne, in, not_in, contains, starts_with, ends_with, gt, gte, lt, lte, exists, in_cidr)"));
                            None
                        }
                    };
                    ops.extend(op);
                }
                if ops.is_empty() && m.is_empty() {
                    self.err(v, format!("{path}: no operator"));
                }
                ops
            }
            _ => self.val(v, path).map(Op::Eq).into_iter().collect(),
        }
    }

    fn val(&mut self, n: &MarkedYaml, what: &str) -> Option<Val> {
        match &n.data {
            YamlData::Value(Scalar::Integer(i)) => Some(Val::Num(*i as f64)),
            YamlData::Value(Scalar::FloatingPoint(f)) if f.0.is_finite() => Some(Val::Num(f.0)),
            YamlData::Value(Scalar::Boolean(b)) => Some(Val::Bool(*b)),
            _ => match scalar_text(n) {
                Some(s) => Some(Val::Str(s)),
                None => {
                    self.err(
                        n,
                        format!(
                            "{what} must be a string, number or boolean, not {}",
                            describe(n)
                        ),
                    );
                    None
                }
            },
        }
    }

    fn vals(&mut self, n: &MarkedYaml, what: &str) -> Option<Vec<Val>> {
        let YamlData::Sequence(items) = &n.data else {
            return self.val(n, what).map(|v| vec![v]);
        };
        if items.is_empty() {
            self.err(n, format!("{what}: empty list"));
            return None;
        }
        if items.len() > MAX_LIST {
            self.err(n, format!("{what}: more than {MAX_LIST} values"));
            return None;
        }
        let vals: Vec<Val> = items.iter().filter_map(|i| self.val(i, what)).collect();
        (vals.len() == items.len()).then_some(vals)
    }
}

fn leaf_label(types: &[String], a: Option<&AlertMatch>, preds: &[FieldPred], count: u64) -> String {
    let mut parts = Vec::new();
    match a {
        Some(a) => {
            parts.push("alert".to_string());
            if !a.detector.is_empty() {
                parts.push(format!("detector={}", a.detector.join("|")));
            }
            if let Some(s) = a.min_score {
                parts.push(format!("score >= {s}"));
            }
            if !a.intel_type.is_empty() {
                parts.push(format!("intel_type={}", a.intel_type.join("|")));
            }
            if !a.feed.is_empty() {
                parts.push(format!("feed={}", a.feed.join("|")));
            }
            if !a.signature_id.is_empty() {
                let ids: Vec<String> = a.signature_id.iter().map(u64::to_string).collect();
                parts.push(format!("sid={}", ids.join("|")));
            }
        }
        None => parts.push(types.join("|")),
    }
    for p in preds {
        parts.push(p.to_string());
    }
    if count > 1 {
        parts.push(format!("(at least {count} events)"));
    }
    parts.join(" ")
}
