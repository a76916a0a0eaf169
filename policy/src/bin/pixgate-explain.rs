//! `pixgate-explain [--profile NAME] [--config FILTER_CONFIG.json] [--source WxH]
//! [--now UNIX] [-H 'Name: value']... '<path?query>'`
//!
//! Prints the explain JSON of DESIGN.md §9 for one request. Exit 0 whenever a decision
//! was reached (rejections included), 2 on a usage error.

use std::process::ExitCode;

use pixgate_policy::explain::explain;
use pixgate_policy::{Dialect, FilterConfig, Policy, RequestHead};

const USAGE: &str = "usage: pixgate-explain [--profile NAME] [--config FILE] [--source WxH] \
[--now UNIX] [-H 'Name: value']... '<path?query>'";

struct Args {
    profile: Option<Dialect>,
    config: Option<String>,
    source: Option<(u32, u32)>,
    now: Option<u64>,
    headers: Vec<(String, String)>,
    target: String,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a =
        Args { profile: None, config: None, source: None, now: None, headers: Vec::new(), target: String::new() };
    let mut target = None;
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--profile" => {
                let v = value("--profile")?;
                a.profile = Some(Dialect::parse(&v).ok_or(format!("unknown profile `{v}`"))?);
            }
            "--config" => a.config = Some(value("--config")?),
            "--source" => {
                let v = value("--source")?;
                let (w, h) = v.split_once('x').ok_or("--source takes WxH")?;
                let dim = |s: &str| s.parse::<u32>().ok().filter(|n| *n > 0);
                a.source = Some((dim(w).ok_or("--source takes WxH")?, dim(h).ok_or("--source takes WxH")?));
            }
            "--now" => {
                let v = value("--now")?;
                a.now = Some(v.parse().map_err(|_| "--now takes unix seconds")?);
            }
            "-H" | "--header" => {
                let v = value("-H")?;
                let (n, val) = v.split_once(':').ok_or("-H takes 'Name: value'")?;
                a.headers.push((n.trim().to_ascii_lowercase(), val.trim().to_owned()));
            }
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option `{s}`")),
            _ => {
                if target.replace(arg).is_some() {
                    return Err("only one URL may be given".into());
                }
            }
        }
    }
    a.target = target.ok_or("a URL is required")?;
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("pixgate-explain: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut config = match &args.config {
        Some(path) => {
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("pixgate-explain: {path}: {e}");
                    return ExitCode::from(2);
                }
            };
            match FilterConfig::from_json(&bytes) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("pixgate-explain: {path}: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        None => FilterConfig::default(),
    };
    if let Some(d) = args.profile {
        if config.routes.is_empty() {
            config =
                match FilterConfig::from_json(format!(r#"{{"routes":[{{"dialect":"{}"}}]}}"#, d.as_str()).as_bytes()) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("pixgate-explain: {e}");
                        return ExitCode::from(2);
                    }
                };
        } else {
            for r in &mut config.routes {
                r.dialect = Some(d);
            }
        }
    }
    let header = |name: &str| args.headers.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_bytes());
    let target = if args.target.starts_with('/') { args.target.clone() } else { format!("/{}", args.target) };
    let req = RequestHead {
        authority: header("host").unwrap_or(b""),
        path: target.as_bytes(),
        accept: header("accept"),
        user_agent: header("user-agent"),
        now: args.now,
    };
    let policy = Policy::new(config);
    println!("{}", explain(&policy, &req, args.source));
    ExitCode::SUCCESS
}
