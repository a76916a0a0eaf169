//! Before the load: originals stored, then every fixed request of the mix sent once
//! through Envoy. This warms the caches (hits are hits) and calibrates the requests
//! whose status depends on the input (hostile images and URLs).

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::client::{self, Reply, Req};
use super::driver::Bases;
use super::mix::{self, Kind, Mix, Original, Planned};
use super::services::{Stack, BUCKET, TOKEN};
use crate::Result;

const CALIBRATION_THREADS: usize = 4;

/// Stores the originals and builds the calibrated mix; also returns what the report
/// says about the setup.
pub fn prepare(stack: &Stack, shared: &Path) -> Result<(Mix, Value)> {
    let originals = mix::originals(shared)?;
    let agent = client::agent(Duration::from_secs(60));
    let mut mix = Mix::new(TOKEN);
    let mut direct = 0;
    let mut upload_status = Vec::new();
    for o in &originals {
        // Uploads are checked (magic bytes, header, limits): what they refuse is written
        // straight into the bucket, as a bucket sync would, so that the pipeline meets it.
        let req = mix::upload(&o.key, o.bytes.clone(), TOKEN);
        let status = client::send(&agent, &stack.origin_url(), &req, None)
            .map_err(|e| format!("seeding {}: {e}", o.key))?
            .status;
        if !matches!(status, 200 | 201) {
            let path = stack.s3_root.join(BUCKET).join("originals").join(&o.key);
            std::fs::create_dir_all(path.parent().unwrap_or(&stack.s3_root)).map_err(|e| e.to_string())?;
            std::fs::write(&path, &o.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            direct += 1;
        }
        upload_status.push(status);
    }
    eprintln!("xtask: soak: {} originals stored ({direct} written straight into the bucket)", originals.len());

    let base = Bases { envoy: stack.envoy_url(), origin: stack.origin_url() };
    let good: Vec<&Original> = originals.iter().filter(|o| o.good).collect();
    let bench: Vec<&str> = good.iter().filter(|o| o.key.starts_with("bench/")).map(|o| o.key.as_str()).collect();

    // Hits: every bench image and every eighth well-formed corpus image, two sizes.
    let hit_keys: Vec<&str> = bench
        .iter()
        .copied()
        .chain(good.iter().filter(|o| o.key.starts_with("corpus/")).step_by(8).map(|o| o.key.as_str()))
        .collect();
    let hits: Vec<Planned> = hit_keys
        .iter()
        .flat_map(|k| [320, 640].map(|w| fixed(Kind::Hit, Req::get(format!("/img/{k}?w={w}")))))
        .collect();
    let replies = calibrate(&base, &hits);
    mix.hits = require(hits, &replies)?;
    mix.revalidations = mix
        .hits
        .iter()
        .zip(&replies)
        .filter_map(|(p, r)| r.as_ref().ok()?.etag.clone().map(|etag| (p, etag)))
        .map(|(p, etag)| fixed(Kind::Revalidate, p.req.clone().header("if-none-match", etag)))
        .collect();
    let replies = calibrate(&base, &mix.revalidations);
    mix.revalidations = require(std::mem::take(&mut mix.revalidations), &replies)?;

    // Every dialect, on photos large enough for the examples' crops.
    let dialect_keys = ["bench/nature-1920x1080.jpg", "bench/hubble-1000x872.jpg", "bench/nature-1920x1080.png"];
    let dialects: Vec<Planned> = dialect_keys
        .iter()
        .flat_map(|k| mix::DIALECT_TEMPLATES.iter().map(move |t| fixed(Kind::Dialect, Req::get(t.replace("{k}", k)))))
        .collect();
    mix.dialects = require(dialects.clone(), &calibrate(&base, &dialects))?;

    // Negotiated formats: real browsers' Accept and User-Agent values, and hostile ones.
    let corpus = shared.join("corpus");
    let (bad_accepts, bad_uas) = mix::hostile_headers();
    mix.accepts = mix::tsv_column(&corpus.join("accept-headers.tsv"))?.into_iter().chain(bad_accepts).collect();
    mix.user_agents = mix::tsv_column(&corpus.join("user-agents.tsv"))?.into_iter().chain(bad_uas).collect();
    mix.negotiated_paths = ["bench/rocket-640x427.jpg", "bench/hubble-1000x872.jpg", "bench/coffee-600x400.png"]
        .iter()
        .flat_map(|k| [format!("/img/{k}?w=480&fmt=auto"), format!("/img/{k}?w=240")])
        .collect();
    let warm: Vec<Planned> = mix
        .negotiated_paths
        .iter()
        .flat_map(|p| {
            ["image/avif,image/webp,*/*", "image/webp,*/*", "*/*"]
                .map(|a| fixed(Kind::Negotiated, Req::get(p.clone()).header("accept", a)))
        })
        .collect();
    require(warm.clone(), &calibrate(&base, &warm))?;

    // Hostile originals and URLs: whatever they get first, they must always get.
    let hostile: Vec<&Original> = originals.iter().filter(|o| !o.good).collect();
    let images: Vec<Planned> = hostile
        .iter()
        .flat_map(|o| [format!("/img/{}?w=200", o.key), format!("/img/{}", o.key)])
        .map(|p| fixed(Kind::HostileImage, Req::get(p)))
        .collect();
    mix.hostile_images = pin(images.clone(), &calibrate(&base, &images))?;
    let urls: Vec<Planned> = mix::hostile_urls("bench/rocket-640x427.jpg")
        .into_iter()
        .map(|p| fixed(Kind::HostileUrl, Req::get(p)))
        .collect();
    let replies = calibrate(&base, &urls);
    // A URL the client itself cannot send is left out (and said so).
    let (sendable, unsendable): (Vec<_>, Vec<_>) = urls
        .into_iter()
        .zip(replies)
        .partition(|(_, r)| r.as_ref().err().map(String::as_str) != Some("bad_request_line"));
    let (urls, replies): (Vec<_>, Vec<_>) = sendable.into_iter().unzip();
    mix.hostile_urls = pin(urls, &replies)?;
    let unsendable: Vec<String> = unsendable.into_iter().map(|(p, _)| p.req.path).collect();
    let hostile_uploads: Vec<Planned> = hostile
        .iter()
        .enumerate()
        .map(|(i, o)| fixed(Kind::HostileUpload, mix::upload(&format!("soak/hostile/{i}.img"), o.bytes.clone(), TOKEN)))
        .collect();
    let replies = calibrate(&base, &hostile_uploads);
    mix.hostile_uploads = pin(hostile_uploads, &replies)?
        .into_iter()
        .map(|mut p| {
            // A created key is replaced from then on.
            if p.expect.iter().any(|s| matches!(s, 200 | 201)) {
                p.expect = vec![200, 201];
            }
            p
        })
        .collect();

    // Misses: unique sizes of every well-formed original the pipeline decodes. The few
    // it cannot decode yet (the corpus test's known gaps) must fail cleanly, always the
    // same way: they join the hostile images.
    let probes: Vec<Planned> =
        good.iter().map(|o| fixed(Kind::Miss, Req::get(format!("/img/{}?w=101", o.key)))).collect();
    let replies = calibrate(&base, &probes);
    let mut gaps = Vec::new();
    let mut bad = Vec::new();
    for ((o, p), r) in good.iter().zip(&probes).zip(&replies) {
        match r {
            Ok(r) if r.status == 200 => mix.miss_keys.push(o.key.clone()),
            Ok(r) if matches!(r.status, 415 | 422) => {
                gaps.push(format!("{} ({} {})", o.key, r.status, r.code.as_deref().unwrap_or("")));
                mix.hostile_images.push(Planned {
                    kind: Kind::HostileImage,
                    req: p.req.clone(),
                    expect: vec![r.status],
                });
            }
            _ => bad.push(describe(p, r)),
        }
    }
    if !bad.is_empty() {
        return Err(format!("well-formed originals failed before the load:\n  {}", bad.join("\n  ")));
    }

    // Uploads: the smaller well-formed photos that uploads accept.
    mix.upload_bodies = originals
        .iter()
        .zip(&upload_status)
        .filter(|(o, status)| o.good && matches!(status, 200 | 201) && o.bytes.len() < 600_000)
        .map(|(o, _)| o.bytes.clone())
        .collect();
    if mix.upload_bodies.is_empty() || mix.miss_keys.is_empty() {
        return Err("no well-formed originals to upload or transform".into());
    }

    let mut statuses = std::collections::BTreeMap::<String, u64>::new();
    for p in mix.hostile_images.iter().chain(&mix.hostile_urls).chain(&mix.hostile_uploads) {
        *statuses.entry(format!("{} {}", p.kind.name(), p.expect[0])).or_default() += 1;
    }
    let setup = json!({
        "originals": originals.len(),
        "originals_refused_by_upload_and_written_to_the_bucket": direct,
        "hit_variants": mix.hits.len(),
        "dialect_urls": mix.dialects.len(),
        "negotiated_paths": mix.negotiated_paths.len(),
        "accept_values": mix.accepts.len(),
        "user_agents": mix.user_agents.len(),
        "hostile_image_requests": mix.hostile_images.len(),
        "hostile_urls": mix.hostile_urls.len(),
        "hostile_urls_the_client_cannot_send": unsendable,
        "hostile_uploads": mix.hostile_uploads.len(),
        "miss_keys": mix.miss_keys.len(),
        "well_formed_originals_the_pipeline_cannot_decode": gaps,
        "upload_bodies": mix.upload_bodies.len(),
        "calibrated_statuses": statuses,
    });
    Ok((mix, setup))
}

fn fixed(kind: Kind, req: Req) -> Planned {
    Planned { kind, req, expect: kind.allowed().to_vec() }
}

/// Sends every request once, a few at a time.
fn calibrate(base: &Bases, plans: &[Planned]) -> Vec<std::result::Result<Reply, String>> {
    let chunk = plans.len().div_ceil(CALIBRATION_THREADS).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = plans
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let agent = client::agent(Duration::from_secs(60));
                    part.iter().map(|p| client::send(&agent, base.of(p.kind), &p.req, None)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

/// Every request must have got one of its kind's statuses.
fn require(plans: Vec<Planned>, replies: &[std::result::Result<Reply, String>]) -> Result<Vec<Planned>> {
    let bad: Vec<String> = plans
        .iter()
        .zip(replies)
        .filter(|(p, r)| !matches!(r, Ok(r) if p.expect.contains(&r.status)))
        .map(|(p, r)| describe(p, r))
        .collect();
    if bad.is_empty() && plans.len() == replies.len() {
        Ok(plans)
    } else {
        Err(format!("{} requests got an unexpected answer before the load:\n  {}", bad.len(), bad.join("\n  ")))
    }
}

/// As [`require`], then the status each request got is the only one it may get.
fn pin(plans: Vec<Planned>, replies: &[std::result::Result<Reply, String>]) -> Result<Vec<Planned>> {
    let plans = require(plans, replies)?;
    Ok(plans
        .into_iter()
        .zip(replies)
        .map(|(mut p, r)| {
            if let Ok(r) = r {
                p.expect = vec![r.status];
            }
            p
        })
        .collect())
}

fn describe(p: &Planned, r: &std::result::Result<Reply, String>) -> String {
    let path: String = p.req.path.chars().take(120).collect();
    match r {
        Ok(r) => format!("{} {path}: {} {}", p.kind.name(), r.status, r.code.as_deref().unwrap_or("")),
        Err(e) => format!("{} {path}: {e}", p.kind.name()),
    }
}
