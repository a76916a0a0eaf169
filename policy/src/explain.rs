//! The explain object of DESIGN.md §9: what the policy decided for one request, as JSON.
//! Printed by `pixgate-explain` and returned by the filter for `x-pixgate-explain: 1`.

use crate::decide::{Decision, Policy, RequestHead};
use crate::error::Warning;
use crate::json::{push_key, push_str};
use crate::plan::plan;

/// Explains `req` under `policy` as one JSON object; `source` (upright width × height)
/// adds `output`. Keys are in name order.
pub fn explain(policy: &Policy, req: &RequestHead<'_>, source: Option<(u32, u32)>) -> String {
    let mut out = String::with_capacity(384);
    out.push('{');
    match policy.decide(req) {
        Decision::Forward(o) => {
            let canonical = o.canonical_path();
            push_key(&mut out, "canonical");
            push_str(&mut out, &canonical);
            out.push(',');
            push_key(&mut out, "dialect");
            push_str(&mut out, o.dialect.as_str());
            out.push(',');
            push_key(&mut out, "format");
            match o.variant.fmt {
                Some(f) => push_str(&mut out, f.as_str()),
                None => out.push_str("null"),
            }
            out.push(',');
            push_key(&mut out, "format_reason");
            push_str(&mut out, o.format_reason.as_str());
            out.push(',');
            push_key(&mut out, "key");
            push_str(&mut out, &o.key);
            out.push(',');
            if let Some((w, h)) = source {
                let p = plan(&o.variant, w, h);
                push_key(&mut out, "output");
                out.push_str(&format!("{{\"height\":{},\"width\":{}}},", p.height, p.width));
            }
            push_key(&mut out, "params");
            out.push('{');
            // The canonical query is `name=value` pairs already in name order.
            let query = canonical.split_once('?').map_or("", |(_, q)| q);
            for (i, pair) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                push_str(&mut out, k);
                out.push(':');
                push_str(&mut out, v);
            }
            out.push_str("},");
            push_key(&mut out, "status");
            out.push_str("200,");
            push_key(&mut out, "vary");
            out.push('[');
            for (i, h) in o.vary.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str(&mut out, h);
            }
            out.push_str("],");
            push_key(&mut out, "warnings");
            warnings(&mut out, &o.warnings);
        }
        Decision::Reject(e) => rejected(&mut out, policy, req, e.status(), e.code.as_str(), &e.message),
        Decision::Pass => rejected(&mut out, policy, req, 404, "not_found", "no route claims this path"),
    }
    out.push('}');
    out
}

fn rejected(out: &mut String, policy: &Policy, req: &RequestHead<'_>, status: u16, code: &str, message: &str) {
    let dialect = policy.dialect_for(req).map_or("generic", |d| d.as_str());
    push_key(out, "canonical");
    out.push_str("\"\",");
    push_key(out, "dialect");
    push_str(out, dialect);
    out.push(',');
    push_key(out, "error");
    out.push('{');
    push_key(out, "code");
    push_str(out, code);
    out.push(',');
    push_key(out, "message");
    push_str(out, message);
    out.push_str("},");
    push_key(out, "format");
    out.push_str("null,");
    push_key(out, "format_reason");
    out.push_str("\"none\",");
    push_key(out, "key");
    out.push_str("\"\",");
    push_key(out, "params");
    out.push_str("{},");
    push_key(out, "status");
    out.push_str(&status.to_string());
    out.push(',');
    push_key(out, "vary");
    out.push_str("[],");
    push_key(out, "warnings");
    out.push_str("[]");
}

fn warnings(out: &mut String, ws: &[Warning]) {
    out.push('[');
    for (i, w) in ws.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        push_key(out, "code");
        push_str(out, w.code.as_str());
        out.push(',');
        push_key(out, "message");
        push_str(out, &w.message);
        out.push('}');
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FilterConfig;
    use serde_json::{json, Value};

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn forward_has_every_field() {
        let p = Policy::new(FilterConfig::default());
        let v = parse(&explain(
            &p,
            &RequestHead { path: b"/img/a.jpg?imageView2/1/w/200/h/200", ..Default::default() },
            Some((1200, 800)),
        ));
        assert_eq!(v["status"], 200);
        assert_eq!(v["dialect"], "qiniu");
        assert_eq!(v["key"], "a.jpg");
        assert_eq!(v["canonical"], "/img/a.jpg?fit=cover&h=200&w=200");
        assert_eq!(v["params"]["fit"], "cover");
        assert_eq!(v["format"], Value::Null);
        assert_eq!(v["format_reason"], "none");
        assert_eq!(v["vary"], json!(["Accept"]));
        assert_eq!(v["output"], json!({"width": 200, "height": 200}));
        assert!(v.get("error").is_none());
    }

    #[test]
    fn rejection_carries_the_error_object() {
        let p = Policy::new(FilterConfig::default());
        let v = parse(&explain(&p, &RequestHead { path: b"/img/a.jpg?width=-5", ..Default::default() }, None));
        assert_eq!(v["status"], 400);
        assert_eq!(v["error"]["code"], "bad_param");
        assert_eq!(v["dialect"], "generic");
    }
}
