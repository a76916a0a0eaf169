//! The explain object of DESIGN.md §9: what the policy decided for one request, as JSON.
//! Printed by `pixgate-explain` and returned by the filter for `x-pixgate-explain: 1`.

use serde_json::{json, Map, Value};

use crate::decide::{Decision, Policy, RequestHead};
use crate::plan::plan;

/// Explains `req` under `policy`; `source` (upright width × height) adds `output`.
pub fn explain(policy: &Policy, req: &RequestHead<'_>, source: Option<(u32, u32)>) -> Value {
    let dialect = policy.dialect_for(req).map(|d| d.as_str());
    let mut obj = Map::new();
    match policy.decide(req) {
        Decision::Forward(o) => {
            let params: Map<String, Value> =
                o.variant.params().into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect();
            obj.insert("status".into(), json!(200));
            obj.insert("dialect".into(), json!(o.dialect.as_str()));
            obj.insert("key".into(), json!(o.key));
            obj.insert("canonical".into(), json!(o.canonical_path()));
            obj.insert("params".into(), Value::Object(params));
            obj.insert("format".into(), json!(o.variant.fmt.map(|f| f.as_str())));
            obj.insert("format_reason".into(), json!(o.format_reason.as_str()));
            obj.insert("vary".into(), json!(o.vary));
            obj.insert("warnings".into(), warnings(&o.warnings));
            if let Some((w, h)) = source {
                let p = plan(&o.variant, w, h);
                obj.insert("output".into(), json!({"width": p.width, "height": p.height}));
            }
        }
        Decision::Reject(e) => {
            rejected(&mut obj, e.status(), dialect);
            obj.insert("error".into(), json!({"code": e.code.as_str(), "message": e.message}));
        }
        Decision::Pass => {
            rejected(&mut obj, 404, dialect);
            obj.insert("error".into(), json!({"code": "not_found", "message": "no route claims this path"}));
        }
    }
    Value::Object(obj)
}

fn rejected(obj: &mut Map<String, Value>, status: u16, dialect: Option<&str>) {
    obj.insert("status".into(), json!(status));
    obj.insert("dialect".into(), json!(dialect.unwrap_or("generic")));
    obj.insert("key".into(), json!(""));
    obj.insert("canonical".into(), json!(""));
    obj.insert("params".into(), json!({}));
    obj.insert("format".into(), Value::Null);
    obj.insert("format_reason".into(), json!("none"));
    obj.insert("vary".into(), json!([]));
    obj.insert("warnings".into(), json!([]));
}

fn warnings(ws: &[crate::error::Warning]) -> Value {
    Value::Array(ws.iter().map(|w| json!({"code": w.code.as_str(), "message": w.message})).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FilterConfig;

    #[test]
    fn forward_has_every_field() {
        let p = Policy::new(FilterConfig::default());
        let v = explain(
            &p,
            &RequestHead { path: b"/img/a.jpg?imageView2/1/w/200/h/200", ..Default::default() },
            Some((1200, 800)),
        );
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
        let v = explain(&p, &RequestHead { path: b"/img/a.jpg?width=-5", ..Default::default() }, None);
        assert_eq!(v["status"], 400);
        assert_eq!(v["error"]["code"], "bad_param");
        assert_eq!(v["dialect"], "generic");
    }
}
